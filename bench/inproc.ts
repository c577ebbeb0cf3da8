/**
 * The framework's own cost per call, with the network taken out: Switchboard client + worker versus the raw
 * equivalent (msgpack encode/decode, shared reply map, publish with reply) over bench/fake-nats.ts, in one process.
 * `npx tsx bench/inproc.ts [--calls N]`; add `node --cpu-prof` (via NODE_OPTIONS) to profile only the framework.
 */
import { Decoder, Encoder } from '@msgpack/msgpack'
import { client, serve, silentLogger } from 'switchboard'
import { numberOption, option } from './args.ts'
import { BenchEcho, type EchoBody } from './echo-contract.ts'
import { FakeNats } from './fake-nats.ts'
import { throughput } from './load.ts'
import { echoPayload } from './payload.ts'
import { rawSharedCaller } from './raw-shared-caller.ts'

const calls = numberOption('calls', 200_000)
const rounds = numberOption('rounds', 5)
const payload = echoPayload('small')
/** `--only sb` or `--only raw` measures one side (for a CPU profile of just that side). */
const only = option('only', '')

// raw: a responder that decodes and answers the msgpack envelope; a shared-subscription caller
const rawNc = new FakeNats()
const enc = new Encoder()
const dec = new Decoder()
rawNc.subscribe('raw.bench.echo', { callback: (_e, msg) => msg.respond(enc.encode({ status: 'OK', result: dec.decode(msg.data) })) })
const shared = rawSharedCaller(rawNc.asConnection())
const raw = async () => dec.decode((await shared('raw.bench.echo', enc.encode(payload))).data)

// switchboard: a worker with validation on and a client, on their own fake connection
const sbNc = new FakeNats()
await serve(
  sbNc.asConnection(),
  BenchEcho,
  { echo: (i: EchoBody) => i, wait: () => ({ ok: true }), spin: () => ({ x: 0 }) },
  { logger: silentLogger, maxInFlight: 4096 },
)
const echo = client(sbNc.asConnection(), BenchEcho)
const sb = () => echo.echo(payload)

const best = { raw: Infinity, sb: Infinity }
for (let r = 0; r < rounds; r++) {
  for (const [name, call] of [
    ['raw', raw],
    ['sb', sb],
  ] as const) {
    if (only !== '' && only !== name) continue
    const t = await throughput(call, 100, { maxCalls: calls, maxMs: 60_000 })
    best[name] = Math.min(best[name], t.cpuUs)
  }
}
console.log(`in-process, 100 in flight, ${calls} calls x ${rounds} rounds (best CPU µs per call, caller + worker together):`)
console.log(`  raw (msgpack + shared reply map)   ${best.raw.toFixed(2)} µs`)
console.log(`  Switchboard (validation on)        ${best.sb.toFixed(2)} µs   (+${(best.sb - best.raw).toFixed(2)} µs, ${(best.sb / best.raw).toFixed(2)}x)`)
process.exit(0)
