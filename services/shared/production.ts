import { DEFAULT_CREDENTIAL_VARS, type CredentialVars } from './connect.ts'
import { devCredentialsInUse } from './dev-credentials.ts'
import { DEV_FEED_KEY } from './position.ts'

type Env = Readonly<Record<string, string | undefined>>

/** The dev password `npm start` gives the admin account outside production. */
export const DEV_ADMIN_PASSWORD = 'admin-dev-pw'

/** The shortest admin password and feed key production mode accepts. */
export const MIN_SECRET_LENGTH = 12

/** Whether `env` asks for production mode: SWITCHBOARD_ENV or NODE_ENV is `production`. */
export function isProduction(env: Env): boolean {
  return env.SWITCHBOARD_ENV === 'production' || env.NODE_ENV === 'production'
}

/** The secrets a process needs, beside its NATS credentials. */
export interface SecretNeeds {
  /** The NATS connections it makes (their credential variables). */
  readonly connections?: readonly CredentialVars[]
  /** It creates the admin account (the user module, `npm start`). */
  readonly adminPassword?: boolean
  /** It makes or reads feed positions (the message module, the gateway). */
  readonly feedKey?: boolean
}

/**
 * What keeps a process with environment `env` from running in production: each default or missing secret, with how
 * to set it. Empty when none. Reads seed files of SWITCHBOARD_CREDS_DIR; writes nothing.
 */
export function productionProblems(env: Env, needs: SecretNeeds): string[] {
  const problems = devCredentialsInUse(env, needs.connections ?? [DEFAULT_CREDENTIAL_VARS]).map(
    (p) => `${p}: make this deployment's NATS credentials with \`npm run creds -- init <dir>\` and set SWITCHBOARD_CREDS_DIR=<dir>`,
  )
  if (needs.adminPassword) problems.push(...secretProblems(env, 'SWITCHBOARD_ADMIN_PASSWORD', DEV_ADMIN_PASSWORD, "the admin account's password"))
  if (needs.feedKey)
    problems.push(...secretProblems(env, 'SWITCHBOARD_FEED_KEY', DEV_FEED_KEY, 'the key of feed positions, the same for the message module and every gateway'))
  return problems
}

function secretProblems(env: Env, name: string, dev: string, what: string): string[] {
  const value = env[name]
  const how = `set ${name} to ${what}, ${MIN_SECRET_LENGTH}+ characters (e.g. \`openssl rand -base64 24\`)`
  if (!value) return [`${name} is not set: ${how}`]
  if (value === dev) return [`${name} is the dev default: ${how}`]
  if (value.length < MIN_SECRET_LENGTH) return [`${name} is shorter than ${MIN_SECRET_LENGTH} characters: ${how}`]
  return []
}

/**
 * For entry points only: in production mode, when `env` holds default or missing secrets, prints each (prefixed by
 * `name`) and exits 2 before anything connects. Outside production it does nothing.
 */
export function refuseDefaultsInProduction(name: string, env: Env, needs: SecretNeeds): void {
  if (!isProduction(env)) return
  const problems = productionProblems(env, needs)
  if (problems.length === 0) return
  process.stderr.write(
    `${name}: production mode (${env.SWITCHBOARD_ENV === 'production' ? 'SWITCHBOARD_ENV' : 'NODE_ENV'}=production) refuses to start:\n${problems.map((p) => `  - ${p}\n`).join('')}`,
  )
  process.exit(2)
}
