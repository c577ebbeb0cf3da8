import { definedOnly, requirePositiveIntegers } from '../shared/options.ts'

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
  const o: ResolvedOpsOptions = { ...DEFAULT_OPS_OPTIONS, ...definedOnly(options) }
  requirePositiveIntegers(o, Object.keys(DEFAULT_OPS_OPTIONS) as (keyof OpsOptions)[], (key) => `ops ${key}`)
  if (o.wait >= o.intervalMs) throw new TypeError(`ops wait (${o.wait}) must be shorter than intervalMs (${o.intervalMs})`)
  return o
}
