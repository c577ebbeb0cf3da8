import { connect, type NatsConnection } from '@nats-io/transport-node'
import { RpcError } from 'switchboard'
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

/** The error a call fails with; throws when it succeeds or fails with something other than `type`. */
export async function failureOf<E extends Error = RpcError>(p: Promise<unknown>, type: abstract new (...args: never[]) => E = RpcError as never): Promise<E> {
  try {
    await p
  } catch (err) {
    if (err instanceof type) return err
    throw err
  }
  throw new Error('expected the call to fail')
}

/** The status a call ends with: 'OK', or the code of the RpcError it throws. */
export async function statusOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'OK'
  } catch (err) {
    if (err instanceof RpcError) return err.code
    throw err
  }
}

/** Runs `f` until it resolves, up to `attempts` times, `intervalMs` apart; rethrows the last failure. */
export async function eventually<T>(f: () => Promise<T>, attempts = 50, intervalMs = 100): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await f()
    } catch (err) {
      if (i >= attempts) throw err
      await delay(intervalMs)
    }
  }
}
