/**
 * bench:scale — throughput of 1, 2, 4, 8 worker processes behind one queue group.
 * I/O-bound: each call awaits ~5 ms, each worker takes at most `maxInFlight` calls at once, the caller keeps
 * workers × maxInFlight calls in flight and retries RESOURCE_EXHAUSTED at once; once with the default client
 * (client-side balancing, the target) and once with `balance: false` (the queue group's random pick), side by side.
 * CPU-bound: a busy loop, 1 and 2 workers.
 * A full worker lets up to --max-queued calls wait for a slot (its `maxQueued`; the worker's default, half of
 * maxInFlight, when not given) before it refuses.
 * Options: --quick, --max-in-flight N, --max-queued N, --seconds S.
 */
import { resolveWorkerOptions } from 'switchboard'
import { startServer } from '../test/harness/nats-server.ts'
import { commandLine, flag, numberOption } from './args.ts'
import { onCleanup, runScript, spawnChild, type Child } from './child.ts'
import { machine, saveResult } from './results.ts'
import { COLORS, writeChart } from './svg.ts'
import { rate, ratio, textTable } from './table.ts'

export const DEFAULT_SCALE = {
  ioWorkers: [1, 2, 4, 8],
  cpuWorkers: [1, 2],
  maxInFlight: 10,
  waitMs: 5,
  /** Busy-loop steps per CPU-bound call (about a millisecond on the reference machine). */
  spinIterations: 40_000,
  cpuInFlightPerWorker: 4,
  seconds: 5,
  quickSeconds: 1.5,
  /** I/O-bound target: speed-up >= SCALING_TARGET * workers. */
  scalingTarget: 0.9,
} as const

interface Point {
  workers: number
  rate: number
  calls: number
  errors: number
  rejected: number
  /** Calls served by the idlest worker / by the busiest. */
  spread: number
  speedup: number
  efficiency: number
  /** CPU per call: caller process, and all workers together (µs). */
  callerCpuUs: number
  workerCpuUs: number
}

async function measure(
  url: string,
  caller: Child,
  workers: number,
  maxInFlight: number,
  maxQueued: number,
  method: string,
  input: unknown,
  inFlight: number,
  maxMs: number,
  balance: boolean,
) {
  const ws: Child[] = []
  for (let i = 0; i < workers; i++) ws.push(await spawnChild(`worker-${i + 1}`, './scale-worker.ts', [url, String(maxInFlight), String(maxQueued)]))
  type Usage = { served: number; cpu: NodeJS.CpuUsage }
  const usage = () => Promise.all(ws.map((w) => w.ask<Usage>({ type: 'usage' })))
  const total = (us: Usage[]) => us.reduce((a, u) => ({ served: a.served + u.served, us: a.us + u.cpu.user + u.cpu.system }), { served: 0, us: 0 })
  try {
    const before = await usage()
    const r = await caller.ask<{ rate: number; calls: number; errors: number; rejected: number; cpuUs: number }>({
      type: 'run',
      method,
      input,
      inFlight,
      maxMs,
      warmMs: Math.min(1_000, maxMs / 2),
      maxCalls: 10_000_000,
      balance,
    })
    const after = await usage()
    const [u0, u1] = [total(before), total(after)]
    // calls served by the idlest worker over those of the busiest, during the run (1: an even spread)
    const served = after.map((u, i) => u.served - before[i]!.served)
    const spread = Math.round((Math.min(...served) / Math.max(1, ...served)) * 100) / 100
    return { ...r, spread, workerCpuUs: Math.round(((u1.us - u0.us) / Math.max(1, u1.served - u0.served)) * 10) / 10 }
  } finally {
    await Promise.all(ws.map((w) => w.stop()))
  }
}

await runScript(async () => {
  const quick = flag('quick')
  const d = DEFAULT_SCALE
  const maxInFlight = numberOption('max-in-flight', d.maxInFlight)
  // the worker's own default unless given: half of maxInFlight (see docs/benchmarks.md for 0, 2, 3, 5 and 10)
  const maxQueued = numberOption('max-queued', resolveWorkerOptions({ maxInFlight }).maxQueued)
  const maxMs = numberOption('seconds', quick ? d.quickSeconds : d.seconds) * 1000
  const t0 = Date.now()
  console.log(
    `bench:scale ${quick ? '(quick) ' : ''}— ${machine().cores} cores; maxInFlight ${maxInFlight}, maxQueued ${maxQueued} per worker; ${maxMs / 1000} s per point`,
  )
  const server = await startServer({ jetstream: false })
  onCleanup(() => server.stop())
  const caller = await spawnChild('caller', './scale-caller.ts', [server.url])

  const series = async (
    label: string,
    counts: readonly number[],
    method: string,
    input: unknown,
    inFlightOf: (k: number) => number,
    limit: number,
    balance = true,
  ) => {
    const points: Point[] = []
    for (const k of counts) {
      process.stdout.write(`  [${Math.round((Date.now() - t0) / 1000)}s] ${label}: ${k} worker(s)...\r`)
      const r = await measure(server.url, caller, k, limit, maxQueued, method, input, inFlightOf(k), maxMs, balance)
      const base = points[0]?.rate ?? r.rate
      points.push({
        workers: k,
        rate: r.rate,
        calls: r.calls,
        errors: r.errors,
        rejected: r.rejected,
        spread: r.spread,
        speedup: r.rate / base,
        efficiency: r.rate / base / k,
        callerCpuUs: r.cpuUs,
        workerCpuUs: r.workerCpuUs,
      })
    }
    process.stdout.write(`${' '.repeat(70)}\r`)
    return points
  }

  // the caller process is fresh: a first point would measure its JIT warm-up and lower the baseline of the series
  process.stdout.write(`  [${Math.round((Date.now() - t0) / 1000)}s] warming up the caller...\r`)
  for (const balance of [true, false])
    await measure(server.url, caller, 1, maxInFlight, maxQueued, 'wait', { ms: d.waitMs }, maxInFlight, Math.min(maxMs, 2_000), balance)
  const io = await series('I/O-bound', d.ioWorkers, 'wait', { ms: d.waitMs }, (k) => k * maxInFlight, maxInFlight)
  const ioQueue = await series('I/O-bound, balance off', d.ioWorkers, 'wait', { ms: d.waitMs }, (k) => k * maxInFlight, maxInFlight, false)
  const cpuLimit = 1_000
  const cpu = await series('CPU-bound', d.cpuWorkers, 'spin', { iterations: d.spinIterations }, (k) => k * d.cpuInFlightPerWorker, cpuLimit)

  const show = (title: string, pts: Point[], target: boolean) => {
    console.log(`\n== ${title}`)
    console.log(
      textTable(
        [
          'workers',
          'calls/s',
          'speed-up',
          'ideal',
          'speed-up / ideal',
          'idlest / busiest worker',
          'rejected (retried)',
          'errors',
          'CPU µs/call caller',
          'workers',
        ],
        pts.map((p) => [
          String(p.workers),
          rate(p.rate),
          ratio(p.speedup),
          `${p.workers}.00x`,
          ratio(p.efficiency),
          p.spread.toFixed(2),
          String(p.rejected),
          String(p.errors),
          p.callerCpuUs.toFixed(1),
          p.workerCpuUs.toFixed(1),
        ]),
      ),
    )
    if (target) {
      const misses = pts.filter((p) => p.workers > 1 && p.efficiency < d.scalingTarget)
      // quick points are too short for fresh workers to warm up (docs/benchmarks.md): the verdict is a hint there
      const hint = quick ? '; quick mode: workers still warming up, the target is judged on a full run' : ''
      console.log(
        `SCALING ${title}: ${misses.length === 0 ? 'target met' : `TARGET MISSED at ${misses.map((p) => `${p.workers} workers (${ratio(p.efficiency)})`).join(', ')}`} (target speed-up >= ${d.scalingTarget} x workers${hint})`,
      )
    }
  }
  const ioTitle = `handler awaits ${d.waitMs} ms, maxInFlight ${maxInFlight} and maxQueued ${maxQueued} per worker, ${maxInFlight} x workers in flight`
  show(`I/O-bound: ${ioTitle}`, io, true)
  show(`I/O-bound, balance off (each call to the queue group's random pick; for comparison): ${ioTitle}`, ioQueue, false)
  show(
    `CPU-bound: ${d.spinIterations} busy-loop steps per call, ${d.cpuInFlightPerWorker} x workers in flight (${machine().cores} cores shared with caller and nats-server)`,
    cpu,
    false,
  )

  const command = commandLine('bench:scale')
  const file = await saveResult('scale', quick, { command, options: { ...d, maxInFlight, maxQueued, maxMs }, io, ioQueue, cpu })
  console.log(`\nsaved ${file}`)
  if (!quick || flag('svg')) {
    const m = machine()
    const chart = await writeChart('bench-scale.svg', {
      title: `Worker scaling: speed-up over one worker (I/O-bound: awaits ${d.waitMs} ms, maxInFlight ${maxInFlight})`,
      notes: [
        `command: ${command}  (${maxMs / 1000} s per point; each worker its own process; nats-server 2.9.10 on loopback)`,
        `machine: ${m.cores} cores, ${m.cpu}, ${m.node}. Dashed: ideal (k x one worker). CPU-bound measured for 1 and 2 workers only.`,
      ],
      yLabel: 'speed-up over 1 worker',
      groups: d.ioWorkers.map((k) => `${k} worker${k > 1 ? 's' : ''}`),
      series: [
        { name: 'I/O-bound', color: COLORS[1]!, values: io.map((p) => p.speedup) },
        { name: 'I/O-bound, balance off', color: COLORS[3]!, values: ioQueue.map((p) => p.speedup) },
        { name: 'CPU-bound', color: COLORS[2]!, values: d.ioWorkers.map((k) => cpu.find((p) => p.workers === k)?.speedup ?? NaN) },
      ],
      reference: { name: 'ideal', values: d.ioWorkers.map((k) => k) },
      format: (v) => `${v.toFixed(2)}x`,
    })
    console.log(`chart ${chart}`)
  }
  console.log(`done in ${Math.round((Date.now() - t0) / 1000)} s`)
})
