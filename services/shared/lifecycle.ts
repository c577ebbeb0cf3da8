import type { NatsConnection } from '@nats-io/nats-core'

/**
 * For entry points only: on SIGTERM/SIGINT runs `close` (graceful), drains `nc` and the `others` (a process's second
 * connections) and exits 0; exits 1 when any of them closes on its own. `name` prefixes what it prints.
 */
export function stopOnSignals(name: string, nc: NatsConnection, close: () => Promise<void>, others: readonly NatsConnection[] = []): void {
  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    process.stdout.write(`${name} stopping on ${signal}\n`)
    await close()
    await Promise.all([nc, ...others].map((c) => c.drain().catch(() => undefined)))
    process.exit(0)
  }
  process.once('SIGTERM', () => void stop('SIGTERM'))
  process.once('SIGINT', () => void stop('SIGINT'))
  for (const c of [nc, ...others]) {
    void c.closed().then((err) => {
      if (stopping) return
      process.stderr.write(`${name}: ${c === nc ? 'connection' : 'second connection'} closed${err ? `: ${err.message}` : ''}\n`)
      process.exit(1)
    })
  }
}
