import { connect, type NatsConnection } from '@nats-io/transport-node'
import type { Test } from 'tap'
import { startServer, type NatsServer, type ServerOptions } from './nats-server.ts'

export * from './nats-server.ts'

/** Starts a nats-server for this test and stops it at teardown. */
export async function serverFor(t: Test, opts?: ServerOptions): Promise<NatsServer> {
  const server = await startServer(opts)
  t.teardown(() => server.stop())
  return server
}

/** Connects to `servers`, closing the connection at teardown. */
export async function connectFor(t: Test, servers: string | string[], opts: Parameters<typeof connect>[0] = {}): Promise<NatsConnection> {
  const nc = await connect({ servers, ...opts })
  t.teardown(() => (nc.isClosed() ? undefined : nc.close()))
  return nc
}

/** Resolves after `ms`. */
export const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
