/** A user's send rate: `rate` messages per second sustained, bursts of up to `burst`. */
export interface SendRate {
  readonly rate: number
  readonly burst: number
}

/**
 * A call turned away at the gateway before any module is asked: the error of its reply frame, as a plain value (no
 * Error, no stack trace: under overload the gateway makes thousands a second).
 */
export interface Refusal {
  readonly code: 'RESOURCE_EXHAUSTED'
  readonly status: 429
  readonly message: string
  readonly data: { readonly retryAfterMs: number }
}

/** A RESOURCE_EXHAUSTED (429) refusal that tells the caller when to try again. */
export function refusal(message: string, retryAfterMs: number): Refusal {
  return { code: 'RESOURCE_EXHAUSTED', status: 429, message, data: { retryAfterMs } }
}

/** The calls that put something in front of other users: they count against the sender's rate. */
export const RATED_CALLS: ReadonlySet<string> = new Set(['message.send', 'message.sendGroup', 'message.edit', 'message.delete', 'message.typing'])

/** Users whose bucket is full again are forgotten once this many are kept. */
const MAX_USERS = 100_000

/**
 * Per-key token buckets of one gateway: per user for sends (all the user's sockets on it share one), per IP address
 * for registrations (services/gateway/edge-limits.ts). A call past its key's rate is refused at once with RESOURCE_EXHAUSTED (429) and `retryAfterMs`, before any module is asked, so one user's flood
 * costs the system a JSON parse and a short reply per frame and nothing else.
 */
export class SendLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>()

  constructor(
    readonly limit: SendRate,
    readonly now: () => number = performance.now.bind(performance),
    readonly explain: (call: string, retryAfterMs: number) => string = (call, retryAfterMs) =>
      `${call}: over ${limit.rate} messages/s (bursts of ${limit.burst}): retry in ${retryAfterMs} ms`,
  ) {}

  /** Takes one token of `userId`'s bucket: undefined when it had one, else the refusal to answer `call` with. */
  take(userId: string, call: string): Refusal | undefined {
    const now = this.now()
    const { rate, burst } = this.limit
    let b = this.#buckets.get(userId)
    if (b === undefined) {
      if (this.#buckets.size >= MAX_USERS) this.#forgetFull(now)
      this.#buckets.set(userId, (b = { tokens: burst, at: now }))
    } else {
      b.tokens = Math.min(burst, b.tokens + ((now - b.at) * rate) / 1000)
      b.at = now
    }
    if (b.tokens >= 1) {
      b.tokens -= 1
      return undefined
    }
    const retryAfterMs = Math.ceil(((1 - b.tokens) * 1000) / rate)
    return refusal(this.explain(call, retryAfterMs), retryAfterMs)
  }

  /** Users tracked now. */
  get size(): number {
    return this.#buckets.size
  }

  #forgetFull(now: number): void {
    const { rate, burst } = this.limit
    for (const [userId, b] of this.#buckets) if (b.tokens + ((now - b.at) * rate) / 1000 >= burst) this.#buckets.delete(userId)
    // everyone is sending: drop the oldest half rather than grow
    if (this.#buckets.size >= MAX_USERS) for (const userId of [...this.#buckets.keys()].slice(0, MAX_USERS / 2)) this.#buckets.delete(userId)
  }
}
