import { nkeyAuthenticator } from '@nats-io/nats-core'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { CREDS_DIR_VAR, DEV_CREDS_DIR, readSeed, seedFile } from './credentials.ts'

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222'

/**
 * How a connection logs in: with the nkey seed in `seedFile` (`<SWITCHBOARD_CREDS_DIR>/<user>.nk`), or, when the
 * password variable is set, with user and password.
 */
export type NatsAuth = { readonly kind: 'nkey'; readonly seedFile: string } | { readonly kind: 'password'; readonly pass: string }

/** Where and as whom a process connects. */
export interface NatsSettings {
  readonly servers: string[]
  /** The NATS user: names the seed file, the inbox prefix and, with a password, the login. */
  readonly user: string
  readonly auth: NatsAuth
  readonly name: string
  /** `_INBOX_<user>`: nats.conf lets each user subscribe only to its own inbox prefix. */
  readonly inboxPrefix: string
}

/** The environment variables a connection's user and (optional) password are read from. */
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

type Env = Readonly<Record<string, string | undefined>>

/** The credentials directory of a process: SWITCHBOARD_CREDS_DIR, else the committed dev seeds (config/dev-creds). */
export const credsDirOf = (env: Env): string => env[CREDS_DIR_VAR] || DEV_CREDS_DIR

/**
 * Resolves the connection settings of `role` from an environment record: NATS_URL; the user from `vars` (NATS_USER by
 * default), else `role`; the login: a password when `vars`' password variable (NATS_PASS) is set, else the nkey seed
 * `<SWITCHBOARD_CREDS_DIR>/<user>.nk` (config/dev-creds by default). Pure.
 */
export function natsSettings(role: string, env: Env = {}, vars: CredentialVars = DEFAULT_CREDENTIAL_VARS): NatsSettings {
  const servers = (env.NATS_URL || DEFAULT_NATS_URL)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
  const user = env[vars.user] || role
  const pass = env[vars.pass]
  return {
    servers,
    user,
    auth: pass ? { kind: 'password', pass } : { kind: 'nkey', seedFile: seedFile(credsDirOf(env), user) },
    inboxPrefix: `_INBOX_${user}`,
    name: `switchboard-${role}`,
  }
}

/**
 * Connects a chat process to NATS as `role` (natsSettings): servers from NATS_URL (comma-separated), the nkey seed
 * `<SWITCHBOARD_CREDS_DIR>/<user>.nk` with user NATS_USER ?? role, or user and password when NATS_PASS is set (or the
 * variables `vars` names), inbox prefix `_INBOX_<user>`, reconnecting forever. Rejects, naming the file and the
 * variables, when the seed file is missing or holds no user seed.
 */
export async function connectNats(role: string, env: Env = process.env, vars: CredentialVars = DEFAULT_CREDENTIAL_VARS): Promise<NatsConnection> {
  const s = natsSettings(role, env, vars)
  const login =
    s.auth.kind === 'password'
      ? { user: s.user, pass: s.auth.pass }
      : {
          authenticator: nkeyAuthenticator(
            readSeed(
              s.auth.seedFile,
              `the seed of NATS user '${s.user}' (${vars.user}, default the role) in ${CREDS_DIR_VAR}${env[CREDS_DIR_VAR] ? '' : ', unset: config/dev-creds'}; or set ${vars.pass} to log in with a password`,
            ),
          ),
        }
  return connect({
    servers: s.servers,
    ...login,
    name: s.name,
    inboxPrefix: s.inboxPrefix,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    noAsyncTraces: true,
  })
}
