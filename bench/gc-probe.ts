/**
 * GC cost per call of one caller, in this process: `npx tsx bench/gc-probe.ts <raw-shared|switchboard> [--rounds N]
 * [--in-flight N]`. Starts nats-server and bench/rpc-responder.ts, warms up, then runs rounds of 2.5 s and prints,
 * per round, calls/s, this process's CPU and GC pause per call (minor and major, from PerformanceObserver). The
 * probe that found the Map behind the two-speed callers (docs/benchmarks.md, fourth round); add
 * `node --trace-gc-nvp --import tsx` to see what each scavenge promotes.
 */
import { Decoder, Encoder } from '@msgpack/msgpack'
import { connect } from '@nats-io/transport-node'
import { constants, PerformanceObserver } from 'node:perf_hooks'
import { client } from 'switchboard'
import { startServer } from '../test/harness/nats-server.ts'
import { numberOption } from './args.ts'
import { onCleanup, runScript, spawnChild } from './child.ts'
import { BenchEcho } from './echo-contract.ts'
import { throughput } from './load.ts'
import { echoPayload } from './payload.ts'
import { rawSharedCaller } from './raw-shared-caller.ts'
import { PREFIX_VALIDATED, RAW_SUBJECT } from './rpc-subjects.ts'

const ROUND_MS = 2_500
const KINDS: Record<number, string> = { [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor', [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major' }

await runScript(async () => {
  const kind = process.argv[2]
  if (kind !== 'raw-shared' && kind !== 'switchboard') throw new Error('usage: gc-probe.ts <raw-shared|switchboard> [--rounds N] [--in-flight N]')
  const rounds = numberOption('rounds', 3)
  const inFlight = numberOption('in-flight', 100)
  const server = await startServer({ jetstream: false })
  onCleanup(() => server.stop())
  await spawnChild('responder', './rpc-responder.ts', [server.url])
  const nc = await connect({ servers: server.url, name: `gc-probe-${kind}` })
  onCleanup(() => nc.close())
  const payload = echoPayload('small')
  const encoder = new Encoder()
  const decoder = new Decoder()
  const shared = rawSharedCaller(nc)
  const bench = client(nc, BenchEcho, { prefix: PREFIX_VALIDATED, timeout: 10_000 })
  const call = kind === 'raw-shared' ? async () => decoder.decode((await shared(RAW_SUBJECT, encoder.encode(payload))).data) : () => bench.echo(payload)

  const pauses = new Map<string, { n: number; ms: number }>()
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const name = KINDS[(e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? -1] ?? 'other'
      const p = pauses.get(name) ?? { n: 0, ms: 0 }
      pauses.set(name, { n: p.n + 1, ms: p.ms + e.duration })
    }
  })
  observer.observe({ entryTypes: ['gc'] })
  onCleanup(async () => observer.disconnect())
  await throughput(call, inFlight, { maxCalls: 1_000_000, maxMs: 2_000 })
  console.log(`gc-probe ${kind}, ${inFlight} in flight, rounds of ${ROUND_MS / 1000} s`)
  for (let r = 1; r <= rounds; r++) {
    pauses.clear()
    const t = await throughput(call, inFlight, { maxCalls: 10_000_000, maxMs: ROUND_MS })
    await new Promise((resolve) => setTimeout(resolve, 50)) // let the observer see the last pauses
    const gc = [...pauses].map(([name, p]) => `${name} ${p.n} x ${((p.ms * 1000) / t.calls).toFixed(2)} µs/call`).join(', ')
    console.log(`  round ${r}: ${Math.round(t.rate / 100) / 10}k calls/s, CPU ${t.cpuUs} µs/call, GC: ${gc || 'none'}`)
  }
})
