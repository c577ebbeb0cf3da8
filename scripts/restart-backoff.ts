/**
 * When `npm start` (scripts/start.ts) restarts a child that exited on its own: exponential backoff, so a child that
 * crashes at once is not restarted in a tight loop, and a child that served a while before it crashed starts over
 * at the first, short delay. Pure functions; the defaults are what `npm start` uses.
 */

/** The delay before the first restart (ms). */
export const DEFAULT_RESTART_INITIAL_MS = 500
/** The longest delay between restarts (ms). */
export const DEFAULT_RESTART_MAX_MS = 30_000
/** A child that served this long before it exited is restarted as if for the first time (ms). */
export const DEFAULT_RESTART_RESET_MS = 60_000

export interface RestartBackoff {
  /** The delay before the first restart (ms). */
  readonly initialMs: number
  /** The cap of the delay (ms). */
  readonly maxMs: number
  /** How long a child must have served for its next restart to count as the first again (ms). */
  readonly resetMs: number
}

export const DEFAULT_RESTART_BACKOFF: RestartBackoff = {
  initialMs: DEFAULT_RESTART_INITIAL_MS,
  maxMs: DEFAULT_RESTART_MAX_MS,
  resetMs: DEFAULT_RESTART_RESET_MS,
}

/**
 * The number of a child's next restart (1 for the first): `previous + 1`, or 1 when the child that just exited had
 * served (printed its ready line) for at least `resetMs`. `servedMs` is undefined when it never served.
 */
export function nextRestart(previous: number, servedMs: number | undefined, backoff: RestartBackoff = DEFAULT_RESTART_BACKOFF): number {
  return servedMs !== undefined && servedMs >= backoff.resetMs ? 1 : previous + 1
}

/** The delay before restart number `restart` (1-based): `initialMs`, doubling with each restart, at most `maxMs`. */
export function restartDelay(restart: number, backoff: RestartBackoff = DEFAULT_RESTART_BACKOFF): number {
  if (!Number.isInteger(restart) || restart < 1) throw new RangeError(`restart must be an integer >= 1, not ${restart}`)
  // 2 ** 1024 is Infinity, which the cap turns back into maxMs
  return Math.min(backoff.maxMs, backoff.initialMs * 2 ** (restart - 1))
}
