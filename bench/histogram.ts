import * as hdr from 'hdr-histogram-js'

/** Latency percentiles in microseconds. */
export interface LatencySummary {
  readonly count: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
  readonly mean: number
}

/** Largest latency the histogram tracks, in µs (60 s). */
export const DEFAULT_HIGHEST_US = 60_000_000

/** An HDR histogram of latencies in whole microseconds, 3 significant digits. */
export function latencyHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: DEFAULT_HIGHEST_US, numberOfSignificantValueDigits: 3 })
}

/** p50/p90/p99/max of a histogram. */
export function summarize(h: hdr.Histogram): LatencySummary {
  return {
    count: h.totalCount,
    p50: h.getValueAtPercentile(50),
    p90: h.getValueAtPercentile(90),
    p99: h.getValueAtPercentile(99),
    max: h.maxValue,
    mean: Math.round(h.mean),
  }
}
