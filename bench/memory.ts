/**
 * bench:memory — a worker's RSS idle and after 1,000,000 echo calls (small body, validation on, 100 in flight),
 * sampled after a full GC every 100,000 calls; growth past the first checkpoint would be a leak.
 * Options: --quick (100,000 calls), --calls N.
 */
import { startServer } from '../test/harness/nats-server.ts'
import { commandLine, flag, numberOption } from './args.ts'
import { onCleanup, runScript, spawnChild } from './child.ts'
import { echoPayload } from './payload.ts'
import { machine, saveResult } from './results.ts'
import { textTable } from './table.ts'

export const DEFAULT_MEMORY = {
  calls: 1_000_000,
  quickCalls: 100_000,
  checkpoints: 10,
  inFlight: 100,
  /** Growth from the first checkpoint to the last above this many MB (and 10 %) counts as growth beyond noise. */
  noiseMb: 5,
  maxInFlight: 1_000,
} as const

interface Sample {
  calls: number
  rssMb: number
  heapUsedMb: number
}

await runScript(async () => {
  const quick = flag('quick')
  const d = DEFAULT_MEMORY
  const total = numberOption('calls', quick ? d.quickCalls : d.calls)
  const chunk = Math.ceil(total / d.checkpoints)
  const t0 = Date.now()
  console.log(`bench:memory ${quick ? '(quick) ' : ''}— ${machine().cores} cores; ${total} calls to one worker, ${d.inFlight} in flight`)
  const server = await startServer({ jetstream: false })
  onCleanup(() => server.stop())
  const worker = await spawnChild('worker', './scale-worker.ts', [server.url, String(d.maxInFlight)], ['--expose-gc'])
  const caller = await spawnChild('caller', './scale-caller.ts', [server.url])
  const sample = async (calls: number): Promise<Sample> => {
    const m = await worker.ask<{ rssMb: number; heapUsedMb: number }>({ type: 'memory' })
    return { calls, rssMb: m.rssMb, heapUsedMb: m.heapUsedMb }
  }
  const samples: Sample[] = [await sample(0)]
  let done = 0
  let errors = 0
  const input = echoPayload('small')
  while (done < total) {
    const r = await caller.ask<{ calls: number; errors: number }>(
      { type: 'run', method: 'echo', input, inFlight: d.inFlight, maxCalls: Math.min(chunk, total - done), maxMs: 120_000, warmMs: 0 },
      300_000,
    )
    done += r.calls + r.errors
    errors += r.errors
    samples.push(await sample(done))
    const last = samples.at(-1)!
    process.stdout.write(`  [${Math.round((Date.now() - t0) / 1000)}s] ${done} calls: RSS ${last.rssMb} MB, heap ${last.heapUsedMb} MB   \r`)
  }
  process.stdout.write(`${' '.repeat(80)}\r`)
  console.log(
    textTable(
      ['calls', 'worker RSS (MB, after GC)', 'heap used (MB)'],
      samples.map((s) => [String(s.calls), s.rssMb.toFixed(1), s.heapUsedMb.toFixed(1)]),
    ),
  )
  const [idle, first, last] = [samples[0]!, samples[1]!, samples.at(-1)!]
  const growth = last.rssMb - first.rssMb
  const heapGrowth = last.heapUsedMb - first.heapUsedMb
  const leak = growth > Math.max(d.noiseMb, first.rssMb * 0.1)
  console.log(
    `MEMORY idle ${idle.rssMb} MB; after ${first.calls} calls ${first.rssMb} MB; after ${last.calls} calls ${last.rssMb} MB: growth ${growth.toFixed(1)} MB RSS, ${heapGrowth.toFixed(1)} MB heap since the first checkpoint (${leak ? 'GROWTH BEYOND NOISE' : 'no growth beyond noise'})${errors > 0 ? `; ${errors} failed calls` : ''}`,
  )
  const file = await saveResult('memory', quick, {
    command: commandLine('bench:memory'),
    options: d,
    calls: total,
    errors,
    samples,
    growthMb: growth,
    heapGrowthMb: heapGrowth,
    leak,
  })
  console.log(`saved ${file}\ndone in ${Math.round((Date.now() - t0) / 1000)} s`)
})
