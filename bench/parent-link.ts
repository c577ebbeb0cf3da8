/** Child side of bench/child.ts: answers the parent's commands over IPC and exits when the parent goes away. */
export type CommandHandler = (command: Record<string, unknown> & { type: string }) => Promise<unknown>

/**
 * Serves commands from the parent with `handle`, after `setup` ran; sends `ready` once set up.
 * `teardown` runs on SIGTERM or when the parent disconnects.
 */
export function serveParent(handle: CommandHandler, teardown: () => Promise<void> = async () => {}): void {
  if (process.send === undefined) throw new Error('run this file through its bench script, not directly')
  let closing = false
  const close = () => {
    if (closing) return
    closing = true
    const t = setTimeout(() => process.exit(0), 2_000)
    t.unref()
    void teardown().finally(() => process.exit(0))
  }
  process.once('SIGTERM', close)
  process.once('SIGINT', close)
  process.once('disconnect', close)
  process.on('message', (m: Record<string, unknown> & { type: string; id: number }) => {
    handle(m).then(
      (data) => process.send?.({ type: 'result', id: m.id, data }),
      (err: Error) => process.send?.({ type: 'error', id: m.id, error: String(err?.stack ?? err) }),
    )
  })
  process.send({ type: 'ready' })
}

/** Resident set size now, in MB, optionally after a full GC (needs --expose-gc). */
export function rssMb(collect = false): number {
  const gc = (globalThis as { gc?: () => void }).gc
  if (collect && gc !== undefined) {
    gc()
    gc()
  }
  return Math.round((process.memoryUsage.rss() / 1048576) * 10) / 10
}
