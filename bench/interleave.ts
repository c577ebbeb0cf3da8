import type { PlanResult, RunPlan } from './plan.ts'
import type { CallerRun } from './summary.ts'

/** What a phase cost outside the caller process: responder and nats-server CPU (µs), responder socket writes. */
export interface PhaseCost {
  readonly responderUs: number
  readonly serverUs: number
  readonly responderWrites: number
}

/** Runs one phase of a plan for one caller kind. */
export type PhaseRunner<K> = (kind: K, plan: RunPlan) => Promise<{ result: PlanResult; cost?: PhaseCost }>

/** Warm-up before each phase after the first: the callers are warm by then, this only re-primes a paused process. */
export const PHASE_WARMUP = 1_000

/**
 * Runs `plan` for every kind, one phase at a time (warm-up and sequential latency first, then each in-flight
 * level), the kinds taking turns on every phase in an order that rotates. On a shared machine the load drifts over
 * seconds; turns per phase (a few seconds) instead of per whole run (half a minute) spread those drifts over every
 * kind alike. `beforeRep` may start fresh processes for each repetition, so that the repetitions are independent
 * samples of where the OS places them and of what the JIT makes of them. Returns, per kind, one merged run per
 * repetition.
 */
export async function runInterleaved<K extends string>(
  kinds: readonly K[],
  plan: RunPlan,
  reps: number,
  runPhase: PhaseRunner<K>,
  { progress, beforeRep }: { progress?: (text: string) => void; beforeRep?: (rep: number) => Promise<void> } = {},
): Promise<Map<K, CallerRun[]>> {
  const phases: RunPlan[] = [
    { ...plan, levels: [] },
    ...plan.levels.map((n) => ({ ...plan, warmup: PHASE_WARMUP, sequential: { maxCalls: 0, maxMs: 0 }, levels: [n] })),
  ]
  const runs = new Map<K, CallerRun[]>(kinds.map((k) => [k, []]))
  let turn = 0
  for (let rep = 0; rep < reps; rep++) {
    await beforeRep?.(rep)
    const merged = new Map(
      kinds.map((k) => [
        k,
        {
          run: { kind: k, sequential: undefined, levels: [] } as Partial<CallerRun> & { levels: CallerRun['levels'] },
          calls: 0,
          responderUs: 0,
          serverUs: 0,
          writes: 0,
          costed: false,
        },
      ]),
    )
    for (const phase of phases) {
      const order = kinds.map((_, i) => kinds[(i + turn) % kinds.length]!)
      turn++
      for (const kind of order) {
        progress?.(`rep ${rep + 1}/${reps}, ${phase.levels.length === 0 ? 'sequential' : `${phase.levels[0]} in flight`}: ${kind}`)
        const { result, cost } = await runPhase(kind, phase)
        const m = merged.get(kind)!
        m.run.sequential ??= result.sequential
        m.run.levels.push(...result.levels)
        m.calls += phase.warmup + (result.sequential?.count ?? 0) + result.levels.reduce((a, l) => a + l.calls + l.errors, 0)
        if (cost !== undefined) {
          m.costed = true
          m.responderUs += cost.responderUs
          m.serverUs += cost.serverUs
          m.writes += cost.responderWrites
        }
      }
    }
    for (const [kind, m] of merged) {
      const run = { ...m.run, sequential: m.run.sequential! } as CallerRun
      if (m.costed) Object.assign(run, { responderCpuUs: m.responderUs / m.calls, serverCpuUs: m.serverUs / m.calls, responderWrites: m.writes / m.calls })
      runs.get(kind)!.push(run)
    }
  }
  return runs
}
