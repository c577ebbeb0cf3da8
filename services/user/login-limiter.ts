import type { NatsConnection } from '@nats-io/nats-core'
import type { KV } from '@nats-io/kv'
import { openBucket, readValue, updateValue } from '../shared/state.ts'

export const LOGIN_FAILURES_BUCKET = 'sb_login_failures'

interface Failures {
  readonly count: number
  readonly since: number
}

/** Failed logins per username in a shared KV bucket, so every copy of the user module counts the same. */
export class LoginLimiter {
  private constructor(
    readonly kv: KV,
    readonly max: number,
    readonly windowMs: number,
  ) {}

  static async open(nc: NatsConnection, replicas: number, max: number, windowMs: number): Promise<LoginLimiter> {
    return new LoginLimiter(await openBucket(nc, LOGIN_FAILURES_BUCKET, replicas, { ttl: windowMs }), max, windowMs)
  }

  /** Ms until `username` may try again (0 when it may now) and whether failures are on record. */
  async check(username: string): Promise<{ waitMs: number; failures: boolean }> {
    const f = (await readValue<Failures>(this.kv, `f.${username}`))?.value
    if (f === undefined) return { waitMs: 0, failures: false }
    const waitMs = f.count < this.max ? 0 : Math.max(0, f.since + this.windowMs - Date.now())
    return { waitMs, failures: true }
  }

  async fail(username: string): Promise<void> {
    const now = Date.now()
    await updateValue<Failures>(this.kv, `f.${username}`, (cur) => ({
      value: cur === undefined || cur.since + this.windowMs <= now ? { count: 1, since: now } : { count: cur.count + 1, since: cur.since },
      result: undefined,
    }))
  }

  async succeed(username: string): Promise<void> {
    await this.kv.delete(`f.${username}`)
  }
}
