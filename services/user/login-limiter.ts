import type { NatsConnection } from '@nats-io/nats-core'
import type { KV } from '@nats-io/kv'
import { openBucket, updateValue } from '../shared/state.ts'

export const LOGIN_FAILURES_BUCKET = 'sb_login_failures'

interface Failures {
  readonly count: number
  readonly since: number
}

/** Login attempts per username in a shared KV bucket, so every copy of the user module counts the same. */
export class LoginLimiter {
  private constructor(
    readonly kv: KV,
    readonly max: number,
    readonly windowMs: number,
  ) {}

  static async open(nc: NatsConnection, replicas: number, max: number, windowMs: number): Promise<LoginLimiter> {
    return new LoginLimiter(await openBucket(nc, LOGIN_FAILURES_BUCKET, replicas, { ttl: windowMs }), max, windowMs)
  }

  /**
   * Counts one login attempt for `username` before its password is checked, so parallel guesses cannot slip past
   * the limit. Resolves with the ms to wait when the limit is reached (the attempt is then not counted), else 0.
   */
  async attempt(username: string): Promise<number> {
    const now = Date.now()
    return updateValue<Failures, number>(this.kv, `f.${username}`, (cur) => {
      if (cur === undefined || cur.since + this.windowMs <= now) return { value: { count: 1, since: now }, result: 0 }
      if (cur.count >= this.max) return { result: Math.max(1, cur.since + this.windowMs - now) }
      return { value: { count: cur.count + 1, since: cur.since }, result: 0 }
    })
  }

  /** Clears the count after a successful login. */
  async succeed(username: string): Promise<void> {
    await this.kv.delete(`f.${username}`)
  }
}
