import { definedOnly, requirePositiveIntegers } from '../shared/options.ts'

/** Options of an adaptive limit on calls in flight; unset fields take their value from DEFAULT_ADAPTIVE_LIMIT. */
export interface AdaptiveLimitOptions {
  /** The limit to start from. */
  readonly initial?: number
  /** The limit never falls below this many calls. */
  readonly min?: number
  /** Nor rises above this many. */
  readonly max?: number
  /** A call that takes longer than this (ms), or is refused downstream, is a sign of congestion: the median call's latency is kept under it. */
  readonly targetMs?: number
  /** How often the limit is adjusted, from the calls that ended in the last window (ms). */
  readonly windowMs?: number
}

export const DEFAULT_ADAPTIVE_LIMIT = { initial: 512, min: 64, max: 4_096, targetMs: 100, windowMs: 200 } as const satisfies Required<AdaptiveLimitOptions>

/** Share of a window's calls that may be slow before the window counts as slow: half (its median is over target). */
const SLOW_SHARE = 0.5
/** Slow windows in a row before the limit is cut: a queue lasts, a pause of one process (a GC) does not. */
const SLOW_WINDOWS = 3
const DECREASE = 0.75
const INCREASE = 1.2

/** Fills unset options from DEFAULT_ADAPTIVE_LIMIT; throws on nonsense values. Pure. */
export function resolveAdaptiveLimit(options: AdaptiveLimitOptions = {}): Required<AdaptiveLimitOptions> {
  const o = { ...DEFAULT_ADAPTIVE_LIMIT, ...definedOnly(options) }
  requirePositiveIntegers(o, ['initial', 'min', 'max'], (key) => `adaptive limit: ${key}`)
  if (!(o.min <= o.initial && o.initial <= o.max)) throw new TypeError(`adaptive limit: needs min <= initial <= max, got ${o.min}, ${o.initial}, ${o.max}`)
  if (!(o.targetMs > 0 && o.windowMs > 0)) throw new TypeError('adaptive limit: targetMs and windowMs must be > 0')
  return o
}

/**
 * A limit on calls in flight that follows the latency of the calls (grow gently, cut hard, as TCP does with its
 * window): a window is slow when more than half of the calls that ended in it took longer than `targetMs` or were
 * refused downstream; the third slow window in a row cuts the limit by a quarter, and after a cut two more slow
 * windows are needed for the next (the calls that end right after a cut were let in before it).
 * A fast window in which the calls in flight reached half the limit raises it by a fifth (so it stays ahead of a
 * burst but not far above the load). Past the limit a call is turned away before it is made, so under overload the excess
 * is refused in the time of a frame parse while the calls let through keep their latency near the target.
 */
export class AdaptiveLimit {
  readonly options: Required<AdaptiveLimitOptions>
  #limit: number
  #inFlight = 0
  #windowStart: number
  #ended = 0
  #slow = 0
  #peak = 0
  #slowWindows = 0

  constructor(
    options: AdaptiveLimitOptions = {},
    readonly now: () => number = performance.now.bind(performance),
  ) {
    this.options = resolveAdaptiveLimit(options)
    this.#limit = this.options.initial
    this.#windowStart = now()
  }

  /** The limit now. */
  get limit(): number {
    return this.#limit
  }

  /** Calls in flight now. */
  get inFlight(): number {
    return this.#inFlight
  }

  /** Takes a slot: false when the limit is reached (refuse the call). */
  tryAcquire(): boolean {
    this.#roll()
    if (this.#inFlight >= this.#limit) return false
    this.#inFlight++
    if (this.#inFlight > this.#peak) this.#peak = this.#inFlight
    return true
  }

  /** A call ended after `latencyMs`; `congested` when it was refused or timed out downstream. */
  release(latencyMs: number, congested = false): void {
    this.#inFlight--
    this.#ended++
    if (congested || latencyMs > this.options.targetMs) this.#slow++
    this.#roll()
  }

  #roll(): void {
    const now = this.now()
    if (now - this.#windowStart < this.options.windowMs) return
    const { min, max } = this.options
    if (this.#ended > 0 && this.#slow > this.#ended * SLOW_SHARE) {
      if (++this.#slowWindows >= SLOW_WINDOWS) {
        this.#limit = Math.max(min, Math.floor(this.#limit * DECREASE))
        this.#slowWindows = SLOW_WINDOWS - 2
      }
    } else if (this.#ended > 0) {
      this.#slowWindows = 0
      if (this.#peak * 2 >= this.#limit) this.#limit = Math.min(max, Math.ceil(this.#limit * INCREASE))
    }
    this.#windowStart = now
    this.#ended = 0
    this.#slow = 0
    this.#peak = this.#inFlight
  }
}
