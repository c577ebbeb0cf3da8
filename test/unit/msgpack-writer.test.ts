import t from 'tap'
import { Encoder } from '@msgpack/msgpack'
import { MsgpackWriter } from 'switchboard/internal'
import { EDGE_NUMBERS, EDGE_STRINGS, randomValues } from '../fixtures/msgpack-values.ts'

const stock = new Encoder({ ignoreUndefined: true })
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

t.test('msgpack writer - writes the same bytes as msgpack for numbers, strings and random bodies', async (t) => {
  const w = new MsgpackWriter()
  for (const n of EDGE_NUMBERS) t.equal(hex(w.encode(n)), hex(stock.encode(n)), `number ${Object.is(n, -0) ? '-0' : n}`)
  for (const s of EDGE_STRINGS) t.equal(hex(w.encode(s)), hex(stock.encode(s)), `string of ${s.length} chars`)
  let same = 0
  const values = randomValues(3_000, 20261126)
  for (const v of values) if (hex(w.encode(v)) === hex(stock.encode(v))) same++
  t.equal(same, values.length, 'every random body')
  // biome-ignore lint/suspicious/noSparseArray: a hole is what this case checks
  const sparse = [1, , 3]
  const withUndefined = { a: undefined, b: [undefined, null], c: { d: undefined } }
  const nullProto = Object.assign(Object.create(null) as object, { k: 'v' })
  for (const v of [sparse, withUndefined, nullProto, undefined, Buffer.from('a buffer'), new Uint8Array(70_000)]) {
    t.equal(hex(w.encode(v)), hex(stock.encode(v)), `the same for ${Object.prototype.toString.call(v)}`)
  }
})

t.test('msgpack writer - hands what it does not handle to msgpack, whole, with msgpack errors', async (t) => {
  const w = new MsgpackWriter()
  class Point {
    constructor(
      readonly x: number,
      readonly y: number,
    ) {}
  }
  const deep: unknown[] = []
  let cur = deep
  for (let i = 0; i < 80; i++) cur.push((cur = []))
  const handed = [
    new Date(1_700_000_000_123),
    { when: new Date(0), list: [new Point(1, 2)] },
    new Map([['k', 1]]),
    new Float32Array([1.5]),
    new DataView(new ArrayBuffer(3)),
    Object.create(Uint8Array.prototype),
    deep,
  ]
  for (const v of handed) t.equal(hex(w.encode(v)), hex(stock.encode(v)), `the same for ${Object.prototype.toString.call(v)}`)
  const cyclic: Record<string, unknown> = { name: 'loop' }
  cyclic.self = cyclic
  t.throws(() => w.encode(cyclic), /Too deep/, 'a cycle fails as with msgpack')
  t.throws(() => w.encode({ f: () => 1 }), /Unrecognized object/, 'a function fails as with msgpack')
  t.throws(() => w.encode({ n: 10n }), /Unrecognized object/, 'a bigint fails as with msgpack')
  t.equal(hex(w.encode({ after: 'an error' })), hex(stock.encode({ after: 'an error' })), 'the writer is usable after a failure')
})

t.test('msgpack writer - differs from msgpack only on lone surrogates, which become U+FFFD', async (t) => {
  const w = new MsgpackWriter()
  t.equal(hex(w.encode('a\ud800b')), hex(stock.encode('a\ufffdb')))
  t.equal(hex(w.encode(`${'x'.repeat(70)}\udc00`)), hex(stock.encode(`${'x'.repeat(70)}\ufffd`)))
})

t.test('msgpack writer - a head goes first; the output is a copy; nested and large encodes stay correct', async (t) => {
  const w = new MsgpackWriter()
  const head = Uint8Array.from([0x82, 0xa1, 0x61, 0x01])
  t.equal(hex(w.encode('x', head)), `${hex(head)}${hex(stock.encode('x'))}`)
  t.equal(hex(w.encode(new Date(5), head)), `${hex(head)}${hex(stock.encode(new Date(5)))}`, 'also on the fallback')
  const first = w.encode({ a: 1 })
  w.encode({ b: 'overwrites the scratch' })
  t.equal(hex(first), hex(stock.encode({ a: 1 })), 'an earlier result is not overwritten')
  // a getter that encodes while the writer is busy: the inner call takes the fallback, the outer one is unharmed
  const tricky = {
    get inner() {
      return hex(w.encode({ nested: true }))
    },
  }
  t.equal(hex(w.encode(tricky)), hex(stock.encode({ inner: hex(stock.encode({ nested: true })) })))
  const big = { blob: 'y'.repeat(3 * 1024 * 1024), n: 1 }
  t.equal(hex(w.encode(big)), hex(stock.encode(big)), 'a body larger than the scratch')
  t.equal(hex(w.encode({ small: 'after' })), hex(stock.encode({ small: 'after' })), 'and a small one after it')
})
