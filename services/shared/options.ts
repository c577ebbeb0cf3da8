import { stderrLogger, type Logger } from 'switchboard'
import type { MetricsListen } from './metrics-listen.ts'
import { DEV_FEED_KEY } from './position.ts'

/** Settings shared by the chat modules' workers. */
export interface ChatOptions {
  /** JetStream replicas of every bucket and stream a module creates. */
  readonly replicas: number
  /** How long a session token lives, in ms. */
  readonly tokenTtlMs: number
  /** The admin account the user module creates (or resets) at start when `adminPassword` is set. */
  readonly adminUser: string
  readonly adminPassword: string | undefined
  /** Failed logins of one username allowed per `loginWindowMs`; past it login answers RESOURCE_EXHAUSTED. */
  readonly loginFailures: number
  readonly loginWindowMs: number
  /** The key of feed positions (services/shared/position.ts); every module process and gateway of a deployment shares it. */
  readonly feedKey: string
  /** How long the message stream keeps messages, in ms: the oldest position a client can resume from. */
  readonly retentionMs: number
  /** How long after sending a message its author may edit or delete it, in ms. */
  readonly editWindowMs: number
  /** Typing events: at most one per sender and conversation per this many ms. */
  readonly typingIntervalMs: number
  /** How long the auth middleware trusts a verified token, in ms (at most 2 s). */
  readonly authCacheMs: number
  readonly maxInFlight: number
  /** Where the worker serves Prometheus metrics (`GET /metrics`); undefined: nowhere (services/shared/metrics-listen.ts). */
  readonly metrics: MetricsListen | undefined
  readonly logger: Logger
}

export const DEFAULT_CHAT_OPTIONS: ChatOptions = {
  replicas: 1,
  tokenTtlMs: 24 * 60 * 60 * 1000,
  adminUser: 'admin',
  adminPassword: undefined,
  loginFailures: 5,
  loginWindowMs: 60_000,
  feedKey: DEV_FEED_KEY,
  retentionMs: 30 * 24 * 3600_000,
  editWindowMs: 15 * 60_000,
  typingIntervalMs: 1_000,
  authCacheMs: 2_000,
  maxInFlight: 512,
  metrics: undefined,
  logger: stderrLogger('warn'),
}

/** Fills unset options from DEFAULT_CHAT_OPTIONS; never changes its argument. */
export function resolveChatOptions(options: Partial<ChatOptions> = {}): ChatOptions {
  const o = { ...DEFAULT_CHAT_OPTIONS, ...definedOnly(options) }
  requirePositiveIntegers(o, ['replicas', 'tokenTtlMs', 'loginFailures', 'loginWindowMs', 'retentionMs', 'editWindowMs', 'typingIntervalMs', 'maxInFlight'])
  return { ...o, authCacheMs: Math.min(Math.max(0, o.authCacheMs), 2_000) }
}

/** Reads the chat options from an environment record (SWITCHBOARD_*). Pure. */
export function chatOptionsFromEnv(env: Readonly<Record<string, string | undefined>>): Partial<ChatOptions> {
  const int = (name: string) => (env[name] === undefined || env[name] === '' ? undefined : Number(env[name]))
  return definedOnly({
    replicas: int('SWITCHBOARD_REPLICAS'),
    tokenTtlMs: int('SWITCHBOARD_TOKEN_TTL_MS'),
    adminUser: env.SWITCHBOARD_ADMIN_USER || undefined,
    adminPassword: env.SWITCHBOARD_ADMIN_PASSWORD || undefined,
    loginFailures: int('SWITCHBOARD_LOGIN_FAILURES'),
    loginWindowMs: int('SWITCHBOARD_LOGIN_WINDOW_MS'),
    feedKey: env.SWITCHBOARD_FEED_KEY || undefined,
    retentionMs: int('SWITCHBOARD_RETENTION_MS'),
    editWindowMs: int('SWITCHBOARD_EDIT_WINDOW_MS'),
  })
}

/** `o` without its undefined fields, so that spreading it over defaults keeps the defaults. */
export function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}

/** Throws a TypeError naming the first of `keys` whose value in `o` is not a positive integer; `label` names a key in the message. */
export function requirePositiveIntegers<T extends object>(o: T, keys: readonly (keyof T & string)[], label: (key: string) => string = (key) => key): void {
  for (const key of keys) {
    const v = o[key]
    if (!(Number.isInteger(v) && (v as number) > 0)) throw new TypeError(`${label(key)} must be a positive integer, got ${v}`)
  }
}
