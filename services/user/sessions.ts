import { createHash, randomBytes } from 'node:crypto'
import type { NatsConnection } from '@nats-io/nats-core'
import type { KV } from '@nats-io/kv'
import { openBucket, readValue, writeValue } from '../shared/state.ts'
import type { Identity } from '../shared/auth.ts'

export const SESSIONS_BUCKET = 'sb_sessions'
const TOKEN = /^[A-Za-z0-9_-]{43}$/

interface Session extends Identity {
  readonly expiresAt: number
}

/** Session tokens: 256 random bits (base64url); stored only as their SHA-256, so the bucket holds no usable token. */
export class Sessions {
  private constructor(
    readonly kv: KV,
    readonly ttlMs: number,
  ) {}

  static async open(nc: NatsConnection, replicas: number, ttlMs: number): Promise<Sessions> {
    return new Sessions(await openBucket(nc, SESSIONS_BUCKET, replicas, { ttl: ttlMs }), ttlMs)
  }

  async open(identity: Identity): Promise<{ token: string; expiresAt: number }> {
    const token = randomBytes(32).toString('base64url')
    const expiresAt = Date.now() + this.ttlMs
    const session: Session = { userId: identity.userId, username: identity.username, role: identity.role, expiresAt }
    await writeValue(this.kv, keyOf(token), session)
    return { token, expiresAt }
  }

  /** The owner of a live token, or undefined when it is malformed, unknown, revoked or expired. */
  async resolve(token: string): Promise<Identity | undefined> {
    if (!TOKEN.test(token)) return undefined
    const s = (await readValue<Session>(this.kv, keyOf(token)))?.value
    if (s === undefined || s.expiresAt <= Date.now()) return undefined
    return { userId: s.userId, username: s.username, role: s.role }
  }

  async revoke(token: string): Promise<void> {
    if (TOKEN.test(token)) await this.kv.delete(keyOf(token))
  }
}

function keyOf(token: string): string {
  return `s.${createHash('sha256').update(token).digest('base64url')}`
}
