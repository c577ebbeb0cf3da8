import type { ServiceMix } from 'switchboard'

/** What the operations dashboard shows: the JSON of `GET /ops/api` and of every `/ops/events` event. */
export interface OpsSnapshot {
  /** Epoch ms of the poll. */
  readonly at: number
  readonly intervalMs: number
  readonly windowMs: number
  /** Polls done since the monitor started. */
  readonly polls: number
  /** Epoch ms of every poll kept in history, oldest first; the series below have one value per entry. */
  readonly times: readonly number[]
  /** Requests per second over all services, per poll. */
  readonly rate: readonly number[]
  /** Errors per second over all services, per poll. */
  readonly errorRate: readonly number[]
  readonly services: readonly ServiceView[]
}

export interface ServiceView {
  readonly name: string
  readonly description: string
  /** Versions its instances run, sorted. */
  readonly versions: readonly string[]
  /**
   * Whether the contracts its instances run may serve side by side; undefined while one contract hash is live (and
   * until `$SRV.INFO` has answered after the set of hashes changed).
   */
  readonly mix: ServiceMix | undefined
  readonly instances: readonly InstanceView[]
  readonly methods: readonly MethodView[]
  /** Requests per second of the whole service, per poll (same length as OpsSnapshot.times). */
  readonly rate: readonly number[]
  readonly errorRate: readonly number[]
}

export interface InstanceView {
  readonly id: string
  readonly version: string
  /** Its `switchboard.contract_hash`, or an empty string when it publishes none. */
  readonly contractHash: string
  /** RFC3339 start time. */
  readonly started: string
  /** Reply time of the last poll, ms. */
  readonly rtt: number
  readonly requests: number
  readonly errors: number
  /** Missed the last poll (still listed until it misses `missesToDrop`). */
  readonly stale: boolean
  readonly metadata: Readonly<Record<string, string>>
}

export interface MethodView {
  readonly name: string
  /** Since each instance started (sum over the live instances). */
  readonly requests: number
  readonly errors: number
  /** Requests per second over the window. */
  readonly rate: number
  /** Errors / requests over the window (0 when there were none). */
  readonly errorRatio: number
  /** Average processing time over the window, or since start when the window had no calls; ms. */
  readonly avgMs: number
  readonly lastError: string
}
