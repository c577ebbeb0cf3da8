import t from 'tap'
import { Decoder, DecodeError, encode } from '@msgpack/msgpack'
import { createDecoder } from 'switchboard/internal'

const values: unknown[] = [
  'plain ascii',
  '',
  'héllo wörld',
  '你好，世界',
  'emoji 👋🏽 and flags 🇫🇷',
  'x'.repeat(199),
  'é'.repeat(150), // 300 bytes: past msgpack's own TextDecoder threshold
  { seq: 1, text: 'hello from the switchboard bench, pls echo', tags: ['a', 'b'] },
  { 'a key longer than sixteen bytes': 'v', ключ: 'значение', nested: { deeper: ['ü', { k: 'ß' }] } },
  ['mixed', 1, null, true, 2.5, new Uint8Array([1, 2, 3]), 'end'],
]

t.test('msgpack decoder - the fast decoder is the one in use, and reads what msgpack wrote exactly as msgpack does', async (t) => {
  const fast = createDecoder()
  t.ok(Object.hasOwn(fast, 'decodeUtf8String'), 'the native string path is installed on this msgpack and Node')
  const plain = new Decoder()
  for (const v of values) {
    const bytes = encode(v)
    t.same(fast.decode(bytes), plain.decode(bytes), `decodes ${JSON.stringify(v).slice(0, 40)}`)
    t.same(fast.decode(bytes), v)
  }
  const offset = Buffer.concat([Buffer.from([9, 9, 9]), encode({ s: 'in a bigger buffer' })]).subarray(3)
  t.same(fast.decode(offset), { s: 'in a bigger buffer' }, 'a view into a larger buffer')
})

t.test('msgpack decoder - malformed input fails as with msgpack: truncated strings, limits, invalid UTF-8', async (t) => {
  const fast = createDecoder()
  const whole = encode({ text: 'a string that gets cut short' })
  t.throws(() => fast.decode(whole.subarray(0, whole.length - 5)), RangeError, 'truncated input is an error, not a short string')
  const limited = new Decoder({ maxStrLength: 4 })
  Object.defineProperty(limited, 'decodeUtf8String', { value: Object.getOwnPropertyDescriptor(fast, 'decodeUtf8String')!.value })
  t.throws(() => limited.decode(encode('too long for the limit')), DecodeError, 'maxStrLength still applies')
  // a fixstr of 3 bytes holding invalid UTF-8 reads as replacement characters instead of throwing
  t.equal(fast.decode(new Uint8Array([0xa3, 0x61, 0xff, 0x62])), 'a\ufffdb')
  // a CESU-style lone surrogate and an overlong NUL: replacement characters, never a lone surrogate in a string
  t.equal(fast.decode(new Uint8Array([0xa3, 0xed, 0xa0, 0x80])), '\ufffd\ufffd\ufffd')
  t.equal(fast.decode(new Uint8Array([0xa2, 0xc0, 0x80])), '\ufffd\ufffd')
})
