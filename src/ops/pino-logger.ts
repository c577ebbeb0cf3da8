import { pino, type DestinationStream, type LevelWithSilent } from 'pino'
import type { Logger } from '../logger.ts'

/** Paths pino blanks in every log line: passwords, tokens and the Authorization header, wherever they sit. */
export const REDACT_PATHS: readonly string[] = [
  'password',
  'token',
  'authorization',
  'Authorization',
  '*.password',
  '*.token',
  '*.authorization',
  '*.Authorization',
  '*.*.password',
  '*.*.token',
  'headers.authorization',
  'headers.Authorization',
]

/** Options of pinoLogger(); unset fields take their value from DEFAULT_PINO_OPTIONS. */
export interface PinoLoggerOptions {
  /** `trace`, `debug`, `info`, `warn`, `error`, `fatal` or `silent`; env LOG_LEVEL, else `info`. */
  readonly level?: string
  /** Where lines go: stderr by default. */
  readonly destination?: DestinationStream
  /** Added to every line (e.g. `{ service: 'user' }`). */
  readonly base?: Record<string, unknown>
  readonly redact?: readonly string[]
}

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])

/** The level named by env LOG_LEVEL, if it names one. */
export function levelFromEnv(env: Record<string, string | undefined> = process.env): LevelWithSilent | undefined {
  const v = env.LOG_LEVEL?.trim().toLowerCase()
  return v !== undefined && LEVELS.has(v) ? (v as LevelWithSilent) : undefined
}

/** A Logger that also says whether a level is on, so callers check once instead of building lines for nothing. */
export interface LevelLogger extends Logger {
  isLevelEnabled(level: string): boolean
}

/**
 * A pino logger for workers and clients: JSON lines on stderr, level from LOG_LEVEL, secrets redacted.
 *
 * ```ts
 * const worker = await serve(nc, User, handlers, { logger: pinoLogger({ base: { module: 'user' } }) })
 * ```
 */
export function pinoLogger({ level, destination, base, redact = REDACT_PATHS }: PinoLoggerOptions = {}): LevelLogger {
  const lvl = level ?? levelFromEnv() ?? 'info'
  if (!LEVELS.has(lvl)) throw new TypeError(`unknown log level '${lvl}'`)
  return pino(
    { level: lvl, base: base ?? null, redact: { paths: [...redact], censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime },
    destination ?? pino.destination({ dest: 2, sync: true }),
  )
}
