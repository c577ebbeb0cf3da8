/**
 * `node --import tsx scripts/nats-keeper.ts [--monitor <url>] -- <nats-server> <args...>`: runs nats-server for
 * scripts/start.ts and stops it when start.ts is gone. nats-server, a Go binary, cannot notice that its parent died;
 * this keeper can (services/shared/parent-watch.ts), so `npm start` leaves no nats-server behind when it is
 * SIGKILLed, and the next `npm start` finds 127.0.0.1:4222 free.
 *
 * - It prints `nats-server pid <n>` first, then relays nats-server's stdout and stderr as its own.
 * - SIGTERM, SIGINT, SIGHUP (reload), SIGUSR1 (reopen the log) and SIGUSR2 (lame duck) are passed on to nats-server.
 * - When nats-server exits, the keeper exits with its code, or dies of the signal that killed it.
 * - When the parent is gone, it lets nats-server's clients (the other children of start.ts, stopping at the same
 *   moment) drain first: with `--monitor`, until the server's /varz counts no connection, at most
 *   {@link DEFAULT_LINGER_MS}; then SIGTERM, nats-server's clean shutdown (the JetStream store stays consistent),
 *   and SIGKILL only if it is still running {@link DEFAULT_STOP_GRACE_MS} later.
 */
import { spawn } from 'node:child_process'
import { constants } from 'node:os'
import { watchParent } from '../services/shared/parent-watch.ts'

/** How long nats-server waits for its clients to leave after the parent is gone (ms). */
export const DEFAULT_LINGER_MS = 5_000
/** How long a SIGTERMed nats-server may take to shut down before SIGKILL (ms). */
export const DEFAULT_STOP_GRACE_MS = 10_000

const FORWARDED = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const

const argv = process.argv.slice(2)
const dashes = argv.indexOf('--')
const own = dashes === -1 ? [] : argv.slice(0, dashes)
const [command, ...args] = dashes === -1 ? [] : argv.slice(dashes + 1)
const monitorAt = own.indexOf('--monitor')
const monitor = monitorAt === -1 ? undefined : own[monitorAt + 1]
if (command === undefined || (monitorAt !== -1 && monitor === undefined)) {
  process.stderr.write('usage: nats-keeper.ts [--monitor <url>] -- <nats-server> <args...>\n')
  process.exit(2)
}

const server = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
// relayed by hand, not piped: once the parent (the reader) is gone, writes fail, and nats-server must still be read
server.stdout!.on('data', (d: Buffer) => process.stdout.write(d))
server.stderr!.on('data', (d: Buffer) => process.stderr.write(d))
server.once('error', (err) => {
  process.stderr.write(`nats-keeper: cannot run ${command}: ${err.message}\n`)
  process.exit(127)
})
// 'close', not 'exit': what nats-server printed last is relayed first
server.once('close', (code, signal) => {
  if (signal === null) process.exit(code ?? 1)
  // dies of the same signal, so that start.ts says what happened to nats-server
  for (const forwarded of FORWARDED) process.removeAllListeners(forwarded)
  process.kill(process.pid, signal)
  setTimeout(() => process.exit(128 + (constants.signals[signal] ?? 0)), 1_000)
})
process.once('exit', () => {
  if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL')
})
for (const signal of FORWARDED) process.on(signal, () => server.kill(signal))
if (server.pid !== undefined) process.stdout.write(`nats-server pid ${server.pid}\n`)

/** Resolves once nats-server's monitor counts no client connection, or after `ms`. */
async function clientsGone(url: string, ms: number): Promise<void> {
  const until = Date.now() + ms
  while (Date.now() < until) {
    try {
      const varz = (await (await fetch(new URL('/varz', url), { signal: AbortSignal.timeout(1_000) })).json()) as { connections?: number }
      if (varz.connections === 0) return
    } catch {
      return // no monitor to ask: nothing to wait for
    }
    await new Promise((r) => setTimeout(r, 100))
  }
}

watchParent(
  (reason) => {
    process.stdout.write(`nats-keeper: stopping nats-server on ${reason}\n`)
    void (monitor === undefined ? Promise.resolve() : clientsGone(monitor, DEFAULT_LINGER_MS)).then(() => {
      server.kill('SIGTERM')
      setTimeout(() => server.kill('SIGKILL'), DEFAULT_STOP_GRACE_MS).unref()
    })
  },
  { graceMs: DEFAULT_LINGER_MS + DEFAULT_STOP_GRACE_MS + 1_000 },
)
