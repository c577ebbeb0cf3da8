import { socketWrites } from './write-counter.ts'
import { latencyHistogram, summarize, type LatencySummary } from './histogram.ts'

/** Bounds of one measured loop: it stops at whichever comes first. */
export interface LoopBounds {
  readonly maxCalls: number
  readonly maxMs: number
}

export interface ThroughputResult {
  readonly inFlight: number
  readonly calls: number
  readonly errors: number
  readonly ms: number
  /** Completed calls per second. */
  readonly rate: number
  /** CPU time (user + system) this process spent per completed call, µs. */
  readonly cpuUs: number
  /** Socket writes per completed call (only with BENCH_COUNT_WRITES=1). */
  readonly writesPerCall: number
}

/** One call at a time, recording each latency in an HDR histogram (µs). */
export async function sequential(call: () => Promise<unknown>, bounds: LoopBounds): Promise<LatencySummary & { errors: number }> {
  const h = latencyHistogram()
  const until = performance.now() + bounds.maxMs
  let errors = 0
  for (let i = 0; i < bounds.maxCalls; i++) {
    const t0 = performance.now()
    try {
      await call()
    } catch {
      errors++
    }
    const t1 = performance.now()
    h.recordValue(Math.max(1, Math.round((t1 - t0) * 1000)))
    if (t1 > until) break
  }
  const s = summarize(h)
  h.destroy()
  return { ...s, errors }
}

/** `inFlight` loops calling back to back; completed calls per second. */
export async function throughput(call: () => Promise<unknown>, inFlight: number, bounds: LoopBounds): Promise<ThroughputResult> {
  let started = 0
  let calls = 0
  let errors = 0
  const cpu0 = process.cpuUsage()
  const w0 = socketWrites()
  const t0 = performance.now()
  const until = t0 + bounds.maxMs
  const loop = async () => {
    while (started < bounds.maxCalls && performance.now() < until) {
      started++
      try {
        await call()
        calls++
      } catch {
        errors++
      }
    }
  }
  await Promise.all(Array.from({ length: inFlight }, loop))
  const ms = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  const cpuUs = Math.round(((cpu.user + cpu.system) / Math.max(1, calls)) * 10) / 10
  return {
    inFlight,
    calls,
    errors,
    ms: Math.round(ms),
    rate: Math.round((calls * 1000) / ms),
    cpuUs,
    writesPerCall: Math.round(((socketWrites() - w0) / Math.max(1, calls)) * 1000) / 1000,
  }
}
