import { RpcError } from 'switchboard'

/** A user's send rate: `rate` messages per second sustained, bursts of up to `burst`. */
export interface SendRate {
  readonly rate: number
  readonly burst: number
}

/** The calls that put something in front of other users: they count against the sender's rate. */
export const RATED_CALLS: ReadonlySet<string> = new Set(['message.send', 'message.sendGroup', 'message.edit', 'message.delete', 'message.typing'])

/** Users whose bucket is full again are forgotten once this many are kept. */
const MAX_USERS = 100_000

/**
 * Per-user token buckets of one gateway (all the user's sockets on it share one): a call past the user's rate is
 * refused at once with RESOURCE_EXHAUSTED (429) and `retryAfterMs`, before any module is asked, so one user's flood
 * costs the system a JSON parse per frame and nothing else.
 */
export class SendLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>()

  constructor(
    readonly limit: SendRate,
    readonly now: () => number = performance.now.bind(performance),
  ) {}

  /** Takes one token of `userId`'s bucket, or throws RESOURCE_EXHAUSTED. */
  take(userId: string, call: string): void {
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
      return
    }
    const retryAfterMs = Math.ceil(((1 - b.tokens) * 1000) / rate)
    throw new RpcError('RESOURCE_EXHAUSTED', `${call}: over ${rate} messages/s (bursts of ${burst}): retry in ${retryAfterMs} ms`, { data: { retryAfterMs } })
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
