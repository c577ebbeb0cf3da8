/**
 * A child of `npm start` (scripts/start.ts) stops when its parent is gone, even when the parent could not stop it
 * (SIGKILL, a crash, a closed terminal): otherwise the child keeps running, holds its ports, and the next `npm start`
 * fails with "port in use".
 *
 * The parent spawns the child with an IPC channel (`stdio: [..., 'ipc']`) and never closes it: the channel ends
 * (`'disconnect'`) the instant the parent process dies, however it dies. As a fallback, process.ppid is compared
 * with the parent's pid every `pollMs`. A process started without that channel (by hand: `npm run worker -- user`,
 * a test, a container) watches nothing and behaves as before.
 *
 * Nothing is installed on import: an entry point calls {@link watchParent} once.
 */

/** How long the child may take to stop after its parent is gone before it exits anyway (ms). */
export const DEFAULT_PARENT_GONE_GRACE_MS = 10_000
/** How often process.ppid is checked, the fallback to the channel's end (ms). */
export const DEFAULT_PARENT_POLL_MS = 1_000

export interface ParentWatchOptions {
  /**
   * How long `onGone` may take before the process exits with code 1 (default {@link DEFAULT_PARENT_GONE_GRACE_MS}):
   * nobody is left to SIGKILL a child whose graceful stop hangs.
   */
  readonly graceMs?: number
  /** How often process.ppid is compared with the parent's pid (default {@link DEFAULT_PARENT_POLL_MS}). */
  readonly pollMs?: number
}

/**
 * When this process has a parent's IPC channel: calls `onGone` once, with a reason to print, as soon as the parent is
 * gone (at once when it already is), and exits with code 1 if the process is still alive `graceMs` later.
 * `onGone` should stop the process the way SIGTERM does (stop taking work, drain, close, exit). From then on, writes
 * to stdout and stderr (pipes the dead parent read) fail quietly instead of crashing the process with EPIPE.
 *
 * Returns whether it watches: false, and does nothing, without an IPC channel. The watch keeps no process alive.
 */
export function watchParent(onGone: (reason: string) => void, options: ParentWatchOptions = {}): boolean {
  // process.send exists in a process spawned with an IPC channel, also once the channel is gone (channel: null)
  if (process.send === undefined) return false
  const graceMs = options.graceMs ?? DEFAULT_PARENT_GONE_GRACE_MS
  const parent = process.ppid
  let fired = false
  const gone = (reason: string) => {
    if (fired) return
    fired = true
    clearInterval(poll)
    process.off('disconnect', onDisconnect)
    for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined)
    setTimeout(() => {
      process.stderr.write(`still running ${graceMs} ms after its parent (pid ${parent}) went: exiting\n`)
      process.exit(1)
    }, graceMs).unref()
    onGone(reason)
  }
  const onDisconnect = () => gone(`parent exit (pid ${parent})`)
  process.on('disconnect', onDisconnect)
  // listening for 'disconnect' refs the channel; the watch itself must not keep the process running
  process.channel?.unref()
  const poll = setInterval(() => {
    if (process.ppid !== parent) gone(`parent exit (pid ${parent}; now a child of ${process.ppid})`)
  }, options.pollMs ?? DEFAULT_PARENT_POLL_MS)
  poll.unref()
  if (!process.connected) gone(`parent exit (pid ${parent}, before this process watched it)`)
  return true
}
