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

/** The environment variables a connection's user and password are read from. */
export interface CredentialVars {
  readonly user: string
  readonly pass: string
}

/** A process's (first) connection: NATS_USER, NATS_PASS. */
export const DEFAULT_CREDENTIAL_VARS = { user: 'NATS_USER', pass: 'NATS_PASS' } as const satisfies CredentialVars

/** The gateway's second connection, its tail of the message stream (role `gateway-feed`): NATS_FEED_USER, NATS_FEED_PASS. */
export const FEED_CREDENTIAL_VARS = { user: 'NATS_FEED_USER', pass: 'NATS_FEED_PASS' } as const satisfies CredentialVars

/** A module's second connection, for its stream reads (role `<module>-reads`): NATS_READS_USER, NATS_READS_PASS. */
export const READS_CREDENTIAL_VARS = { user: 'NATS_READS_USER', pass: 'NATS_READS_PASS' } as const satisfies CredentialVars

/**
 * Resolves the connection settings of `role` from an environment record: NATS_URL, and the user and password from
 * `vars` (NATS_USER and NATS_PASS by default), else `role` and `<role>-dev-pw`. Pure.
 */
export function natsSettings(
  role: string,
  env: Readonly<Record<string, string | undefined>> = {},
  vars: CredentialVars = DEFAULT_CREDENTIAL_VARS,
): NatsSettings {
  const servers = (env.NATS_URL || DEFAULT_NATS_URL)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
  const user = env[vars.user] ?? role
  return {
    servers,
    user,
    inboxPrefix: `_INBOX_${user}`,
    pass: env[vars.pass] ?? `${role}-dev-pw`,
    name: `switchboard-${role}`,
  }
}

/**
 * Connects a chat process to NATS as `role`: servers from NATS_URL (comma-separated), user NATS_USER ?? role,
 * password NATS_PASS ?? `<role>-dev-pw` (or the variables `vars` names), inbox prefix `_INBOX_<user>`, reconnecting
 * forever.
 */
export function connectNats(
  role: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
  vars: CredentialVars = DEFAULT_CREDENTIAL_VARS,
): Promise<NatsConnection> {
  const s = natsSettings(role, env, vars)
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
