import type { NatsConnection } from '@nats-io/nats-core'
import { connectNats, type CredentialVars } from './connect.ts'
import { CREDS_DIR_VAR } from './credentials.ts'

/**
 * For entry points only: connects as `role` (credentials from `vars`) for `what`; when its seed file is missing or
 * the server refuses, prints which user and variables it needs, closes `first` (the connection the process already
 * has, if any) and exits 1.
 */
export async function connectOrExit(name: string, role: string, vars: CredentialVars, what: string, first?: NatsConnection): Promise<NatsConnection> {
  try {
    return await connectNats(role, process.env, vars)
  } catch (err) {
    process.stderr.write(
      `${name}: cannot connect as '${process.env[vars.user] || role}' for ${what} (${vars.user}; its seed <user>.nk in ${CREDS_DIR_VAR}, or ${vars.pass}; the server needs that user, docs/security.md): ${(err as Error).message}\n`,
    )
    await first?.close()
    process.exit(1)
  }
}

/**
 * For entry points only: on SIGTERM/SIGINT runs `close` (graceful), drains `nc` and the `others` (a process's second
 * connections) and exits 0; exits 1 when any of them closes on its own. `name` prefixes what it prints.
 * Returns that stop, for other reasons to stop the same way (services/shared/parent-watch.ts: the parent is gone).
 */
export function stopOnSignals(
  name: string,
  nc: NatsConnection,
  close: () => Promise<void>,
  others: readonly NatsConnection[] = [],
): (reason: string) => Promise<void> {
  let stopping = false
  const stop = async (reason: string) => {
    if (stopping) return
    stopping = true
    process.stdout.write(`${name} stopping on ${reason}\n`)
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
  return stop
}
