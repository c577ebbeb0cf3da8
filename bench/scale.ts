/**
 * bench:scale — throughput of 1, 2, 4, 8 worker processes behind one queue group.
 * I/O-bound: each call awaits ~5 ms, each worker takes at most `maxInFlight` calls at once, the caller keeps
 * workers × maxInFlight calls in flight and retries RESOURCE_EXHAUSTED at once. CPU-bound: a busy loop, 1 and 2 workers.
 * A full worker lets up to --max-queued calls wait for a slot (its `maxQueued`; the worker's default, half of
 * maxInFlight, when not given) before it refuses.
 * Options: --quick, --max-in-flight N, --max-queued N, --seconds S.
 */
import { resolveWorkerOptions } from '../src/index.ts'
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
  speedup: number
  efficiency: number
  /** CPU per call: caller process, and all workers together (µs). */
  callerCpuUs: number
  workerCpuUs: number
}

async function measure(url: string, caller: Child, workers: number, maxInFlight: number, maxQueued: number, method: string, input: unknown, inFlight: number, maxMs: number) {
  const ws: Child[] = []
  for (let i = 0; i < workers; i++) ws.push(await spawnChild(`worker-${i + 1}`, './scale-worker.ts', [url, String(maxInFlight), String(maxQueued)]))
  type Usage = { served: number; cpu: NodeJS.CpuUsage }
  const usage = async () => (await Promise.all(ws.map((w) => w.ask<Usage>({ type: 'usage' })))).reduce((a, u) => ({ served: a.served + u.served, us: a.us + u.cpu.user + u.cpu.system }), { served: 0, us: 0 })
  try {
    const u0 = await usage()
    const r = await caller.ask<{ rate: number; calls: number; errors: number; rejected: number; cpuUs: number }>({ type: 'run', method, input, inFlight, maxMs, warmMs: Math.min(1_000, maxMs / 2), maxCalls: 10_000_000 })
    const u1 = await usage()
    return { ...r, workerCpuUs: Math.round(((u1.us - u0.us) / Math.max(1, u1.served - u0.served)) * 10) / 10 }
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
  console.log(`bench:scale ${quick ? '(quick) ' : ''}— ${machine().cores} cores; maxInFlight ${maxInFlight}, maxQueued ${maxQueued} per worker; ${maxMs / 1000} s per point`)
  const server = await startServer({ jetstream: false })
  onCleanup(() => server.stop())
  const caller = await spawnChild('caller', './scale-caller.ts', [server.url])

  const series = async (label: string, counts: readonly number[], method: string, input: unknown, inFlightOf: (k: number) => number, limit: number) => {
    const points: Point[] = []
    for (const k of counts) {
      process.stdout.write(`  [${Math.round((Date.now() - t0) / 1000)}s] ${label}: ${k} worker(s)...\r`)
      const r = await measure(server.url, caller, k, limit, maxQueued, method, input, inFlightOf(k), maxMs)
      const base = points[0]?.rate ?? r.rate
      points.push({ workers: k, rate: r.rate, calls: r.calls, errors: r.errors, rejected: r.rejected, speedup: r.rate / base, efficiency: r.rate / base / k, callerCpuUs: r.cpuUs, workerCpuUs: r.workerCpuUs })
    }
    process.stdout.write(`${' '.repeat(70)}\r`)
    return points
  }

  const io = await series('I/O-bound', d.ioWorkers, 'wait', { ms: d.waitMs }, (k) => k * maxInFlight, maxInFlight)
  const cpuLimit = 1_000
  const cpu = await series('CPU-bound', d.cpuWorkers, 'spin', { iterations: d.spinIterations }, (k) => k * d.cpuInFlightPerWorker, cpuLimit)

  const show = (title: string, pts: Point[], target: boolean) => {
    console.log(`\n== ${title}`)
    console.log(
      textTable(
        ['workers', 'calls/s', 'speed-up', 'ideal', 'speed-up / ideal', 'rejected (retried)', 'errors', 'CPU µs/call caller', 'workers'],
        pts.map((p) => [String(p.workers), rate(p.rate), ratio(p.speedup), `${p.workers}.00x`, ratio(p.efficiency), String(p.rejected), String(p.errors), p.callerCpuUs.toFixed(1), p.workerCpuUs.toFixed(1)]),
      ),
    )
    if (target) {
      const misses = pts.filter((p) => p.workers > 1 && p.efficiency < d.scalingTarget)
      console.log(`SCALING ${title}: ${misses.length === 0 ? 'target met' : `TARGET MISSED at ${misses.map((p) => `${p.workers} workers (${ratio(p.efficiency)})`).join(', ')}`} (target speed-up >= ${d.scalingTarget} x workers)`)
    }
  }
  show(`I/O-bound: handler awaits ${d.waitMs} ms, maxInFlight ${maxInFlight} and maxQueued ${maxQueued} per worker, ${maxInFlight} x workers in flight`, io, true)
  show(`CPU-bound: ${d.spinIterations} busy-loop steps per call, ${d.cpuInFlightPerWorker} x workers in flight (${machine().cores} cores shared with caller and nats-server)`, cpu, false)

  const command = commandLine('bench:scale')
  const file = await saveResult('scale', quick, { command, options: { ...d, maxInFlight, maxQueued, maxMs }, io, cpu })
  console.log(`\nsaved ${file}`)
  if (!quick || flag('svg')) {
    const m = machine()
    const chart = await writeChart('bench-scale.svg', {
      title: `Worker scaling: speed-up over one worker (I/O-bound: awaits ${d.waitMs} ms, maxInFlight ${maxInFlight})`,
      notes: [`command: ${command}  (${maxMs / 1000} s per point; each worker its own process; nats-server 2.9.10 on loopback)`, `machine: ${m.cores} cores, ${m.cpu}, ${m.node}. Dashed: ideal (k x one worker). CPU-bound measured for 1 and 2 workers only.`],
      yLabel: 'speed-up over 1 worker',
      groups: d.ioWorkers.map((k) => `${k} worker${k > 1 ? 's' : ''}`),
      series: [
        { name: 'I/O-bound', color: COLORS[1]!, values: io.map((p) => p.speedup) },
        { name: 'CPU-bound', color: COLORS[2]!, values: d.ioWorkers.map((k) => cpu.find((p) => p.workers === k)?.speedup ?? NaN) },
      ],
      reference: { name: 'ideal', values: d.ioWorkers.map((k) => k) },
      format: (v) => `${v.toFixed(2)}x`,
    })
    console.log(`chart ${chart}`)
  }
  console.log(`done in ${Math.round((Date.now() - t0) / 1000)} s`)
})
