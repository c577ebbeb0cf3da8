import { connect, type NatsConnection } from '@nats-io/transport-node'

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222'

/** Where and as whom a process connects. */
export interface NatsSettings {
  readonly servers: string[]
  readonly user: string
  readonly pass: string
  readonly name: string
  /** `_INBOX_<user>`: nats.conf lets each user subscribe only to its own inbox prefix. */
  readonly inboxPrefix: string
}

/** Resolves the connection settings of `role` from an environment record (NATS_URL, NATS_USER, NATS_PASS). Pure. */
export function natsSettings(role: string, env: Readonly<Record<string, string | undefined>> = {}): NatsSettings {
  const servers = (env.NATS_URL || DEFAULT_NATS_URL)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
  const user = env.NATS_USER ?? role
  return {
    servers,
    user,
    inboxPrefix: `_INBOX_${user}`,
    pass: env.NATS_PASS ?? `${role}-dev-pw`,
    name: `switchboard-${role}`,
  }
}

/**
 * Connects a chat process to NATS as `role`: servers from NATS_URL (comma-separated), user NATS_USER ?? role,
 * password NATS_PASS ?? `<role>-dev-pw`, inbox prefix `_INBOX_<user>`, reconnecting forever.
 */
export function connectNats(role: string, env: Readonly<Record<string, string | undefined>> = process.env): Promise<NatsConnection> {
  const s = natsSettings(role, env)
  return connect({
    servers: s.servers,
    user: s.user,
    pass: s.pass,
    name: s.name,
    inboxPrefix: s.inboxPrefix,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    noAsyncTraces: true,
  })
}
