import { sequential, throughput, type LoopBounds, type ThroughputResult } from './load.ts'
import type { LatencySummary } from './histogram.ts'

/** What one caller measures in one run. */
export interface RunPlan {
  readonly warmup: number
  /** Sequential latency loop; skipped when `maxCalls` is 0. */
  readonly sequential: LoopBounds
  readonly levels: readonly number[]
  readonly level: LoopBounds
}

/** What a caller process answers to one `run` command. */
export interface PlanResult {
  readonly sequential: (LatencySummary & { errors: number; count: number }) | undefined
  readonly levels: ThroughputResult[]
}

/** Runs a plan in a caller process: warm-up at 100 in flight, then sequential latency, then each level. */
export async function runPlan(call: () => Promise<unknown>, plan: RunPlan): Promise<PlanResult> {
  await call() // fails fast if nobody answers
  if (plan.warmup > 0) await throughput(call, 100, { maxCalls: plan.warmup, maxMs: 10_000 })
  const seq = plan.sequential.maxCalls > 0 ? await sequential(call, plan.sequential) : undefined
  const levels = []
  for (const n of plan.levels) levels.push(await throughput(call, n, plan.level))
  return { sequential: seq, levels }
}
