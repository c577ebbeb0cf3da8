import t from 'tap'
import { DecodeError, Decoder, encode, Encoder } from '@msgpack/msgpack'
import { createDecoder, KeyCache, MsgpackReader } from 'switchboard/internal'
import { EDGE_NUMBERS, EDGE_STRINGS, randomValues } from '../fixtures/msgpack-values.ts'

const stock = new Decoder()
const reader = () => {
  const keys = new KeyCache()
  return new MsgpackReader(createDecoder(keys), keys)
}

/** How a call ended: its value, or its error's class and message. */
function outcome(fn: () => unknown): unknown {
  try {
    return { value: fn() }
  } catch (err) {
    return { error: (err as Error).constructor.name, message: (err as Error).message }
  }
}

t.test('msgpack reader - reads what msgpack reads, for numbers, strings and random bodies', async (t) => {
  const r = reader()
  for (const n of [...EDGE_NUMBERS, -(2 ** 63), 2 ** 64 - 2 ** 11]) t.same(r.decode(encode(n)), stock.decode(encode(n)), `number ${n}`)
  const f32 = new Encoder({ forceFloat32: true }).encode([1.5, -0.1, 3e38])
  t.same(r.decode(f32), stock.decode(f32), 'float 32')
  for (const s of EDGE_STRINGS) t.equal(r.decode(encode(s)), s, `string of ${s.length} chars`)
  const wide = {
    bin16: new Uint8Array(300).fill(7),
    bin32: new Uint8Array(70_000).fill(9),
    map32: Object.fromEntries(Array.from({ length: 65_536 }, (_, i) => [`k${i}`, i])),
  }
  for (const [name, v] of Object.entries(wide)) t.same(r.decode(encode(v)), stock.decode(encode(v)), name)
  const values = randomValues(3_000, 1126)
  let same = 0
  for (const v of values) {
    const bytes = encode(v, { ignoreUndefined: true })
    if (
      JSON.stringify(
        outcome(() => r.decode(bytes)),
        replacer,
      ) ===
      JSON.stringify(
        outcome(() => stock.decode(bytes)),
        replacer,
      )
    )
      same++
  }
  t.equal(same, values.length, 'every random body')
  const inBigger = Buffer.concat([Buffer.from([9, 9]), encode({ s: 'in a bigger buffer', b: new Uint8Array([1, 2]) })])
  t.same(r.decode(inBigger, 2), { s: 'in a bigger buffer', b: Buffer.from([1, 2]) }, 'from an offset')
  const bin = r.decode(inBigger, 2) as { b: Uint8Array }
  t.equal(bin.b.buffer, inBigger.buffer, 'binary is a view into the input, as with msgpack')
})

t.test('msgpack reader - hands extensions, odd keys and malformed input to msgpack: same values, same errors', async (t) => {
  const r = reader()
  const deep: unknown[] = []
  let cur = deep
  for (let i = 0; i < 90; i++) cur.push((cur = []))
  const cases: [string, Uint8Array][] = [
    ['a timestamp', encode({ at: new Date(1_700_000_000_123) })],
    ['a number key', Uint8Array.from([0x81, 0x07, 0xa1, 0x76])],
    ['a __proto__ key', encode(JSON.parse('{"__proto__": {"polluted": true}}'))],
    ['a map key', Uint8Array.from([0x81, 0x80, 0x01])],
    ['the unused type byte', Uint8Array.from([0x92, 0x01, 0xc1])],
    ['a truncated body', encode({ text: 'cut short' }).subarray(0, 8)],
    ['a truncated float', Uint8Array.from([0xcb, 0x40, 0x09])],
    ['a truncated key', Uint8Array.from([0x81, 0xa5, 0x61])],
    ['an array claiming more items than bytes', Uint8Array.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0x01])],
    ['trailing bytes', Uint8Array.from([0x01, 0x02])],
    ['an empty body', new Uint8Array(0)],
    ['90 levels deep', encode(deep)],
  ]
  for (const [name, bytes] of cases)
    t.same(
      outcome(() => r.decode(bytes)),
      outcome(() => stock.decode(bytes)),
      name,
    )
  t.same(Object.getPrototypeOf({}), Object.prototype)
  t.notOk('polluted' in ({} as object), 'no prototype was polluted')
  t.ok(outcome(() => r.decode(cases[2]![1])) instanceof Object && (outcome(() => r.decode(cases[2]![1])) as { error: string }).error === DecodeError.name)
})

t.test('msgpack reader - short keys come from the cache; invalid UTF-8 is U+FFFD in keys and values, on both paths', async (t) => {
  const r = reader()
  const a = r.decode(encode({ username: 1 })) as object
  const b = r.decode(encode({ username: 2 })) as object
  t.equal(Object.keys(a)[0], Object.keys(b)[0])
  const badKey = Uint8Array.from([0x81, 0xa3, 0x61, 0xff, 0x62, 0x01])
  t.same(r.decode(badKey), { 'a\ufffdb': 1 }, 'fast path')
  const badKeyAndDate = Buffer.concat([Uint8Array.from([0x82, 0xa3, 0x61, 0xff, 0x62, 0x01, 0xa1, 0x64]), encode(new Date(0))])
  t.same(r.decode(badKeyAndDate), { 'a\ufffdb': 1, d: new Date(0) }, 'msgpack path, with the same key cache')
  const many = Array.from({ length: 40 }, (_, i) => `key${i}`)
  for (const k of many) t.same(r.decode(encode({ [k]: k })), { [k]: k })
  t.same(
    r.decode(encode(Object.fromEntries(many.map((k) => [k, 1])))),
    Object.fromEntries(many.map((k) => [k, 1])),
    'more keys of one length than the cache keeps',
  )
})

/** JSON of decoded values that keeps what JSON loses: binary, NaN, infinities and -0. */
function replacer(this: unknown, _k: string, v: unknown): unknown {
  if (v instanceof Uint8Array) return `bin:${Buffer.from(v).toString('hex')}`
  if (typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0))) return `num:${Object.is(v, -0) ? '-0' : String(v)}`
  return v
}

t.test('msgpack reader - nests maxDepth levels itself; deeper goes to the fallback, and only those values are checked', async (t) => {
  const keys = new KeyCache()
  const r = new MsgpackReader(createDecoder(keys), keys, 2)
  const checked: unknown[] = []
  const check = (v: unknown) => void checked.push(v)
  t.same(r.decode(encode([['x']]), 0, check), [['x']])
  t.same(checked, [], 'two levels: read by the fast path, not checked')
  t.same(r.decode(encode([[['x']]]), 0, check), [[['x']]])
  t.same(checked, [[[['x']]]], 'three levels: read by the fallback, then checked')
  t.throws(
    () =>
      r.decode(encode({ a: { b: {} } }), 0, () => {
        throw new RangeError('too deep for this caller')
      }),
    /too deep for this caller/,
    "the check's error is the decode's",
  )
})
