import type { NatsConnection } from '@nats-io/nats-core'

/**
 * For entry points only: on SIGTERM/SIGINT runs `close` (graceful), drains `nc` and exits 0; exits 1 when the
 * connection closes on its own. `name` prefixes what it prints.
 */
export function stopOnSignals(name: string, nc: NatsConnection, close: () => Promise<void>): void {
  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    process.stdout.write(`${name} stopping on ${signal}\n`)
    await close()
    await nc.drain().catch(() => undefined)
    process.exit(0)
  }
  process.once('SIGTERM', () => void stop('SIGTERM'))
  process.once('SIGINT', () => void stop('SIGINT'))
  void nc.closed().then((err) => {
    if (stopping) return
    process.stderr.write(`${name}: connection closed${err ? `: ${err.message}` : ''}\n`)
    process.exit(1)
  })
}
