import { stderrLogger, type Logger } from 'switchboard'

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
  /** How long a real-time delivery (chat.deliver.<userId>) may take before the message goes to the inbox, in ms. */
  readonly deliverTimeoutMs: number
  /** How long the auth middleware trusts a verified token, in ms (at most 2 s). */
  readonly authCacheMs: number
  readonly maxInFlight: number
  readonly logger: Logger
}

export const DEFAULT_CHAT_OPTIONS: ChatOptions = {
  replicas: 1,
  tokenTtlMs: 24 * 60 * 60 * 1000,
  adminUser: 'admin',
  adminPassword: undefined,
  loginFailures: 5,
  loginWindowMs: 60_000,
  deliverTimeoutMs: 1_000,
  authCacheMs: 2_000,
  maxInFlight: 512,
  logger: stderrLogger('warn'),
}

/** Fills unset options from DEFAULT_CHAT_OPTIONS; never changes its argument. */
export function resolveChatOptions(options: Partial<ChatOptions> = {}): ChatOptions {
  const o = { ...DEFAULT_CHAT_OPTIONS, ...definedOnly(options) }
  for (const k of ['replicas', 'tokenTtlMs', 'loginFailures', 'loginWindowMs', 'deliverTimeoutMs', 'maxInFlight'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new TypeError(`${k} must be a positive integer, got ${o[k]}`)
  }
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
    deliverTimeoutMs: int('SWITCHBOARD_DELIVER_TIMEOUT_MS'),
  })
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
