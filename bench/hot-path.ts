/**
 * Micro-benchmark of the per-call pieces of the RPC hot path, in one process, no network:
 * what each step costs in ns, to read next to a CPU profile of bench:rpc. `npx tsx bench/hot-path.ts`
 */
import { Decoder, Encoder } from '@msgpack/msgpack'
import { headers as natsHeaders, nuid, type Msg, type MsgHdrs } from '@nats-io/nats-core'
import { MsgHdrsImpl } from '@nats-io/nats-core/internal'
import { Packr } from 'msgpackr'
import { decodeBody, decodeEnvelope, encodeBody, encodeOk, fromMsgHdrs, readHeaders as headersOf, validatorsOf, wireHeaders } from 'switchboard/internal'

/** How the client built headers before src/headers.ts wrote them in wire form: the reference this bench prices. */
function toMsgHdrs(...records: Record<string, string>[]): MsgHdrs {
  const h = natsHeaders()
  for (const r of records) for (const k in r) h.set(k, r[k]!)
  return h
}
import { BenchEcho } from './echo-contract.ts'
import { MSGPACKR_OPTIONS } from './msgpackr-options.ts'
import { echoPayload } from './payload.ts'

const ITERATIONS = 50_000
const ROUNDS = 15

/** ns per call of `fn`, best of ROUNDS of `iterations` calls. */
function time(name: string, fn: (i: number) => unknown, iterations = ITERATIONS): number {
  let best = Infinity
  let sink: unknown
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < iterations; i++) sink = fn(i)
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / iterations)
  }
  if (sink === Symbol.for('never')) console.log(sink)
  console.log(`${name.padEnd(58)} ${best.toFixed(0).padStart(6)} ns`)
  return best
}

const payload = echoPayload('small')
const body = encodeBody(payload)
const reply = encodeOk(payload)
const enc = new Encoder()
const dec = new Decoder()
const v = validatorsOf(BenchEcho.methods.echo)
const record = { 'Rpc-Id': nuid.next(), 'Rpc-Deadline': String(Date.now() + 5000) }
/** nats.js MsgHdrsImpl has encode(); the public MsgHdrs type does not show it. */
const encodeHdrs = (h: unknown): Uint8Array => (h as { encode(): Uint8Array }).encode()
const hdrBytes = encodeHdrs(toMsgHdrs(record))

console.log(`hot path pieces (${ITERATIONS} iterations, best of ${ROUNDS}); payload ${body.length} B`)
console.log('-- caller side')
time('headers: toMsgHdrs(Rpc-Id, Rpc-Deadline) + encode() (before)', () => encodeHdrs(toMsgHdrs(record, { 'Rpc-Deadline': record['Rpc-Deadline'] })))
const built = toMsgHdrs(record)
time('  of which toMsgHdrs() alone', () => toMsgHdrs(record, { 'Rpc-Deadline': record['Rpc-Deadline'] }))
time('  of which MsgHdrs.encode() alone', () => encodeHdrs(built))
const te = new TextEncoder()
time('headers: one string + shared TextEncoder', () => te.encode(`NATS/1.0\r\nRpc-Id: ${record['Rpc-Id']}\r\nRpc-Deadline: ${record['Rpc-Deadline']}\r\n\r\n`))
time('headers: wireHeaders(record, deadline).encode() (client.ts)', () =>
  (wireHeaders(record, 'Rpc-Deadline', record['Rpc-Deadline']) as unknown as { encode(): Uint8Array }).encode(),
)
const none: Record<string, string> | undefined = undefined
time('{...a, ...b, ...c} header record + nuid.next()', () => ({ ...(none ?? {}), ...{}, ...{}, 'Rpc-Id': nuid.next() }))
time('setTimeout + clearTimeout', () => clearTimeout(setTimeout(() => {}, 5000)))
time('input Check (compiled TypeBox)', () => v.input.Check(payload))
time('encodeBody (src/msgpack-writer.ts)', () => encodeBody(payload))
time('  @msgpack/msgpack Encoder.encode(): a new Uint8Array', () => enc.encode(payload))
time('  @msgpack/msgpack encodeSharedRef() + Buffer.from (before)', () => Buffer.from(enc.encodeSharedRef(payload)))
time('  new Uint8Array(80) (own ArrayBuffer)', () => new Uint8Array(80))
time('  Buffer.allocUnsafe(80) (slice of the pool)', () => Buffer.allocUnsafe(80))
time('decodeEnvelope (src/msgpack-reader.ts)', () => decodeEnvelope(reply))
time('  @msgpack/msgpack Decoder.decode() of the same bytes', () => dec.decode(reply))
time('raw: enc.encode + dec.decode (what raw-shared does)', () => dec.decode(enc.encode(payload)))
console.log('-- worker side')
time('headers: MsgHdrsImpl.decode + fromMsgHdrs (before)', () => fromMsgHdrs(MsgHdrsImpl.decode(hdrBytes)))
const rdata = new Uint8Array(hdrBytes.length + body.length)
rdata.set(hdrBytes)
rdata.set(body, hdrBytes.length)
const fakeMsg = () => ({ _msg: { hdr: hdrBytes.length }, _rdata: rdata }) as unknown as Msg
time('headers: readHeaders(msg) from raw bytes (worker.ts)', () => headersOf(fakeMsg()))
time('decodeBody', () => decodeBody(body))
time('input + output Check', () => v.input.Check(payload) && v.output.Check(payload))
time('encodeOk', () => encodeOk(payload))
time('performance.now() x2 + Date.now()', () => performance.now() + performance.now() + Date.now())

console.log('-- msgpackr A/B (issue 13; options in bench/msgpackr-options.ts, equivalence in bench/msgpackr-equivalence.ts)')
const packr = new Packr(MSGPACKR_OPTIONS)
const envelope = { status: 'OK', result: payload }
const large = echoPayload('64KB')
const largeBody = encodeBody(large)
const ab: [string, () => unknown, () => unknown, number?][] = [
  ['encode small body', () => encodeBody(payload), () => packr.pack(payload)],
  ['decode small body', () => decodeBody(body), () => packr.unpack(body)],
  ['encode reply envelope', () => encodeOk(payload), () => packr.pack(envelope)],
  ['decode reply envelope', () => decodeEnvelope(reply), () => packr.unpack(reply)],
  [`encode 64 KB body (${largeBody.length} B)`, () => encodeBody(large), () => packr.pack(large), 2_000],
  ['decode 64 KB body', () => decodeBody(largeBody), () => packr.unpack(largeBody), 2_000],
]
let oursSmall = 0
let theirsSmall = 0
for (const [name, ours, theirs, iterations] of ab) {
  const a = time(`${name}: ours`, ours, iterations)
  const b = time(`${name}: msgpackr`, theirs, iterations)
  if (name.endsWith('small body')) {
    oursSmall += a
    theirsSmall += b
  }
  console.log(`  msgpackr / ours: ${(b / a).toFixed(2)}`)
}
console.log(`small body encode + decode: ours ${oursSmall.toFixed(0)} ns, msgpackr ${theirsSmall.toFixed(0)} ns, ratio ${(theirsSmall / oursSmall).toFixed(2)}`)
