import type { LatencySummary } from './histogram.ts'
import type { ThroughputResult } from './load.ts'
import { median } from './median.ts'

/** What a caller process answers to one `run` (bench/rpc-caller.ts, bench/peers-caller.ts). */
export interface CallerRun {
  kind: string
  sequential: LatencySummary & { errors: number }
  levels: ThroughputResult[]
  /** Responder CPU per call over the whole run (warm-up included), µs. */
  responderCpuUs?: number
  /** nats-server CPU per call over the whole run, µs (NaN where /proc is missing). */
  serverCpuUs?: number
  responderWrites?: number
}

/** Median of each figure over repetitions. */
export function medianRun(runs: CallerRun[]) {
  const levels = runs[0]!.levels.map((l) => l.inFlight)
  const seqKeys = ['p50', 'p90', 'p99', 'max', 'mean'] as const
  return {
    sequential: Object.fromEntries(seqKeys.map((k) => [k, median(runs.map((r) => r.sequential[k]))])) as Record<(typeof seqKeys)[number], number>,
    throughput: Object.fromEntries(levels.map((n, i) => [n, median(runs.map((r) => r.levels[i]!.rate))])) as Record<number, number>,
    callerCpuUs: Object.fromEntries(levels.map((n, i) => [n, median(runs.map((r) => r.levels[i]!.cpuUs))])) as Record<number, number>,
    callerWrites: Object.fromEntries(levels.map((n, i) => [n, median(runs.map((r) => r.levels[i]!.writesPerCall))])) as Record<number, number>,
    responderWrites: Math.round(median(runs.map((r) => r.responderWrites ?? NaN)) * 1000) / 1000,
    responderCpuUs: Math.round(median(runs.map((r) => r.responderCpuUs ?? NaN)) * 10) / 10,
    serverCpuUs: Math.round(median(runs.map((r) => r.serverCpuUs ?? NaN)) * 10) / 10,
    errors: runs.reduce((a, r) => a + r.sequential.errors + r.levels.reduce((b, l) => b + l.errors, 0), 0),
    reps: runs.map((r) => ({ p50: r.sequential.p50, throughput: r.levels.map((l) => l.rate) })),
  }
}
export type Summary = ReturnType<typeof medianRun>
