/** How an idempotent method retries UNAVAILABLE and DEADLINE_EXCEEDED within its deadline. */
export interface RetryOptions {
  /** Attempts in all, the first included. */
  readonly attempts: number
  /** Backoff before the second attempt, in ms; doubled each time, jittered over its upper half. */
  readonly baseDelay: number
  /** Upper bound of one backoff, in ms. */
  readonly maxDelay: number
}

export const DEFAULT_RETRY: RetryOptions = Object.freeze({ attempts: 3, baseDelay: 20, maxDelay: 500 })

/** The wait before attempt `attempt` (1-based; attempt 1 never waits). */
export function backoff({ baseDelay, maxDelay }: RetryOptions, attempt: number, random: () => number = Math.random): number {
  if (attempt <= 1) return 0
  const ceiling = Math.min(maxDelay, baseDelay * 2 ** (attempt - 2))
  return Math.round(ceiling / 2 + (random() * ceiling) / 2)
}

/** The timeout of one attempt: what remains of the deadline, shared among the attempts still allowed. */
export function attemptTimeout(remaining: number, attemptsLeft: number): number {
  return attemptsLeft <= 1 ? remaining : Math.max(1, Math.floor(remaining / attemptsLeft))
}

/** Resolves for `ms` milliseconds, or rejects early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(t)
      reject(signal!.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
