/**
 * Issue 13's equivalence gate: does msgpackr, set up as bench/hot-path.ts sets it up, write the bytes of
 * @msgpack/msgpack (what our writer writes) and read bodies as decodeBody does? Seeded random bodies as in
 * test/unit/msgpack-writer.test.ts, plus edge cases; mismatches counted by category.
 * `npx tsx bench/msgpackr-equivalence.ts [count] [seed]`
 */
import { Encoder, encode } from '@msgpack/msgpack'
import { isNativeAccelerationEnabled, Packr } from 'msgpackr'
import { decodeBody, encodeBody } from 'switchboard/internal'
import { EDGE_NUMBERS, EDGE_STRINGS, randomValues } from '../test/fixtures/msgpack-values.ts'
import { MSGPACKR_OPTIONS } from './msgpackr-options.ts'

const count = Number(process.argv[2] ?? 500)
const seed = Number(process.argv[3] ?? 20261126)
const stock = new Encoder({ ignoreUndefined: true })
const packr = new Packr(MSGPACKR_OPTIONS)
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const differs = (v: unknown) => hex(packr.pack(v)) !== hex(stock.encode(v))

/** The kind of a value, for grouping mismatches. */
function kind(v: unknown): string {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) return Number.isInteger(v) ? 'number: integer past 2^53' : 'number: float'
    return v >= 2 ** 32 || v < -(2 ** 31) ? 'number: integer past 32 bits' : 'number: 32-bit integer'
  }
  if (typeof v === 'string') return `string: ${Buffer.byteLength(v) < 32 ? '< 32' : Buffer.byteLength(v) < 256 ? '32-255' : '≥ 256'} bytes`
  if (v instanceof Uint8Array) return 'binary'
  if (Array.isArray(v)) return 'array header'
  if (v !== null && typeof v === 'object') return 'map header'
  return String(v)
}

/** The innermost values whose bytes differ (a container whose children all match is itself the culprit). */
function culprits(v: unknown, out: Set<string>): void {
  const children = Array.isArray(v) ? v : v !== null && typeof v === 'object' && !(v instanceof Uint8Array) ? Object.values(v) : []
  const bad = children.filter((c) => c !== undefined && differs(c))
  if (bad.length === 0) out.add(kind(v))
  for (const c of bad) culprits(c, out)
}

/** How a call ended: its value as JSON that keeps binary, -0, NaN and infinities, or its error's class. */
function outcome(fn: () => unknown): string {
  try {
    return JSON.stringify({ value: fn() }, (_k, x) =>
      x instanceof Uint8Array
        ? `bin:${hex(x)}`
        : typeof x === 'number' && (!Number.isFinite(x) || Object.is(x, -0))
          ? `num:${x}`
          : typeof x === 'bigint'
            ? `bigint:${x}`
            : x === undefined
              ? 'undefined'
              : x,
    )
  } catch (err) {
    return `throws ${(err as Error).constructor.name}`
  }
}

const tally = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1)
const bodies = [...EDGE_NUMBERS, ...EDGE_STRINGS, ...randomValues(count, seed)]
const encodeMismatch = new Map<string, number>()
let ours = 0
let theirs = 0
let decodeDiff = 0
let readBack = 0
for (const v of bodies) {
  if (hex(encodeBody(v)) !== hex(stock.encode(v))) ours++
  if (differs(v)) {
    theirs++
    const found = new Set<string>()
    culprits(v, found)
    for (const k of found) tally(encodeMismatch, k)
  }
  if (outcome(() => decodeBody(packr.pack(v))) !== outcome(() => decodeBody(encodeBody(v)))) readBack++
  const bytes = stock.encode(v)
  if (outcome(() => decodeBody(bytes)) !== outcome(() => packr.unpack(bytes))) decodeDiff++
}
console.log(`msgpackr ${JSON.stringify(MSGPACKR_OPTIONS, (_k, x) => (x === undefined ? 'undefined' : x))}`)
console.log(`native string extraction: ${isNativeAccelerationEnabled}; ${bodies.length} bodies (${count} random, seed ${seed})`)
console.log(`encode: ours differs from @msgpack/msgpack on ${ours}, msgpackr on ${theirs}; by the innermost value that differs:`)
for (const [k, n] of [...encodeMismatch].sort((a, b) => b[1] - a[1])) console.log(`  ${String(n).padStart(5)}  ${k}`)
console.log(`decodeBody of msgpackr's bytes reads a different value than of ours on ${readBack}`)
console.log(`decode of @msgpack/msgpack bytes: msgpackr's value differs from decodeBody's on ${decodeDiff}`)

class Point {
  x = 1
}
const deep: unknown[] = []
for (let i = 0, cur = deep; i < 90; i++) cur.push((cur = []))
const cases: [string, unknown][] = [
  ['{ a: undefined, b: 1 }', { a: undefined, b: 1 }],
  ['[undefined, null]', [undefined, null]],
  ['undefined at top level', undefined],
  ['null-prototype object', Object.assign(Object.create(null) as object, { k: 'v' })],
  ['a Buffer', Buffer.from('a buffer')],
  ['a Date', new Date(1_700_000_000_123)],
  ['a Map', new Map([['k', 1]])],
  ['a Float32Array', new Float32Array([1.5])],
  ['a class instance', new Point()],
  ['a lone surrogate', 'a\ud800b'],
  ['a function value', { f: () => 1 }],
  ['a bigint', 10n],
]
console.log('encode edge cases (@msgpack/msgpack | ours | msgpackr):')
for (const [name, v] of cases) {
  const run = (fn: () => Uint8Array) => outcome(() => hex(fn())).replace(/^\{"value":"(.*)"\}$/, '$1')
  const [a, b, c] = [run(() => stock.encode(v)), run(() => encodeBody(v)), run(() => packr.pack(v))]
  console.log(`  ${a === c ? 'same' : 'DIFF'}  ${name}: ${a} | ${b} | ${c}`)
}
const decodeCases: [string, Uint8Array][] = [
  ['a timestamp', encode(new Date(1_700_000_000_123))],
  ['an unknown extension (type 1)', Uint8Array.from([0xd4, 0x01, 0x00])],
  ["msgpackr's undefined (fixext 0)", Uint8Array.from([0xd4, 0x00, 0x00])],
  ["msgpackr's Set (moreTypes)", new Packr({ useRecords: false, moreTypes: true }).pack(new Set([1]))],
  ['a number key', Uint8Array.from([0x81, 0x07, 0xa1, 0x76])],
  ['a __proto__ key', encode(JSON.parse('{"__proto__": {"polluted": true}}'))],
  ['uint64 2^60', encode(2 ** 60)],
  ['invalid UTF-8 value', Uint8Array.from([0xa3, 0x61, 0xff, 0x62])],
  ['invalid UTF-8 key', Uint8Array.from([0x81, 0xa3, 0x61, 0xff, 0x62, 0x01])],
  ['the unused type byte 0xc1', Uint8Array.from([0x92, 0x01, 0xc1])],
  ['a truncated body', encode({ text: 'cut short' }).subarray(0, 8)],
  ['trailing bytes', Uint8Array.from([0x01, 0x02])],
  ['90 levels deep', encode(deep)],
]
console.log('decode edge cases (decodeBody | msgpackr unpack):')
for (const [name, bytes] of decodeCases) {
  const [a, b] = [outcome(() => decodeBody(bytes)), outcome(() => packr.unpack(bytes))]
  console.log(`  ${a === b ? 'same' : 'DIFF'}  ${name}: ${a.slice(0, 60)} | ${b.slice(0, 60)}`)
}
