/** Options of the operations monitor; unset fields take their value from DEFAULT_OPS_OPTIONS. */
export interface OpsOptions {
  /** Time between two `$SRV.STATS` polls, in ms. */
  readonly intervalMs?: number
  /** How much history the charts keep, in ms. */
  readonly historyMs?: number
  /** Rates, error rates and latencies are averaged over this last stretch, in ms. */
  readonly windowMs?: number
  /** How long one discovery request collects replies, in ms (instances slower than this count as missing). */
  readonly wait?: number
  /** An instance missing from this many polls in a row is dropped from the view. */
  readonly missesToDrop?: number
}

export type ResolvedOpsOptions = Required<OpsOptions>

export const DEFAULT_OPS_OPTIONS: ResolvedOpsOptions = {
  intervalMs: 2_000,
  historyMs: 5 * 60_000,
  windowMs: 10_000,
  wait: 750,
  missesToDrop: 2,
}

/** Fills unset options from DEFAULT_OPS_OPTIONS; throws on nonsense values. */
export function resolveOpsOptions(options: OpsOptions = {}): ResolvedOpsOptions {
  const o = { ...DEFAULT_OPS_OPTIONS }
  for (const key of Object.keys(options) as (keyof OpsOptions)[]) {
    if (options[key] !== undefined) o[key] = options[key]
  }
  for (const key of Object.keys(DEFAULT_OPS_OPTIONS) as (keyof OpsOptions)[]) {
    if (!(Number.isInteger(o[key]) && o[key] > 0)) throw new TypeError(`ops ${key} must be a positive integer, got ${o[key]}`)
  }
  if (o.wait >= o.intervalMs) throw new TypeError(`ops wait (${o.wait}) must be shorter than intervalMs (${o.intervalMs})`)
  return o
}
