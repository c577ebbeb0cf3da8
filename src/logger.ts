/** The logger a worker writes to; pino's `(obj, msg)` signature, so a pino logger fits as is. */
export interface Logger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
  /** Whether `level` is written; checked once by workers so that disabled levels cost nothing per call. */
  isLevelEnabled?(level: string): boolean
}

const LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const
/** A log level, or `silent`. */
export type LogLevel = (typeof LEVELS)[number]

/** A logger that writes JSON lines at `level` and above to stderr. */
export function stderrLogger(level: LogLevel = 'warn'): Logger {
  const min = LEVELS.indexOf(level)
  const at = (name: Exclude<LogLevel, 'silent'>) => {
    if (LEVELS.indexOf(name) < min) return () => {}
    return (obj: object, msg?: string) => {
      process.stderr.write(`${safeJson({ level: name, time: Date.now(), ...obj, msg })}\n`)
    }
  }
  const isLevelEnabled = (name: string) => {
    const i = LEVELS.indexOf(name as LogLevel)
    return i !== -1 && name !== 'silent' && i >= min
  }
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), isLevelEnabled }
}

function errors(_key: string, v: unknown): unknown {
  if (v instanceof Error) return { name: v.name, message: v.message, stack: v.stack }
  return typeof v === 'bigint' ? v.toString() : v
}

function safeJson(line: object): string {
  try {
    return JSON.stringify(line, errors)
  } catch {
    const { level, time, msg } = line as { level?: unknown; time?: unknown; msg?: unknown }
    return JSON.stringify({ level, time, msg, note: 'log fields could not be serialised' })
  }
}

/** A logger that drops everything. */
export const silentLogger: Logger = stderrLogger('silent')
