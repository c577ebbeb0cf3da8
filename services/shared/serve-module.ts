import type { NatsConnection } from '@nats-io/nats-core'
import { serve, type AnyContract, type Handlers, type Worker, type WorkerOptions } from 'switchboard'
import { authMiddleware, type AuthState, type TokenResolver } from './auth.ts'
import type { ChatOptions } from './options.ts'
import type { MetricsListen } from './metrics-listen.ts'
import { storeErrors } from './store-errors.ts'

/** How a chat module's worker differs from the others; unset fields: every method needs a session, verified by user.verify. */
export interface ModuleServeOptions {
  /** The methods that need a session (`Authorization: Bearer <token>`); every method of the contract by default. */
  readonly auth?: readonly string[]
  /** How a token is resolved; the nested call `user.verify` by default. */
  readonly resolve?: TokenResolver
  /** How long a verified token is trusted, in ms; the chat option `authCacheMs` by default. */
  readonly authCacheMs?: number
  /** What the worker holds beside its subscriptions (caches that listen to events): stopped after the worker. */
  readonly resources?: readonly { stop(): void }[]
}

/** Serves with `options`, plus metrics on the first port of `listen` that is free when it is set. */
async function serveWithMetrics<C extends AnyContract>(
  nc: NatsConnection,
  contract: C,
  handlers: Handlers<C, AuthState>,
  options: WorkerOptions<AuthState>,
  listen: MetricsListen | undefined,
): Promise<Worker<C>> {
  if (listen === undefined) return serve<C, AuthState>(nc, contract, handlers, options)
  for (let port = listen.first; ; port++) {
    try {
      return await serve<C, AuthState>(nc, contract, handlers, { ...options, metrics: { port, host: listen.host } })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || port >= listen.last) throw err
    }
  }
}

/**
 * Serves a chat module's contract with what every module's worker has: its in-flight limit and logger from the
 * chat options, passing store failures mapped to UNAVAILABLE (`storeErrors`), and the session check
 * (`authMiddleware`, which sets `ctx.state.user`).
 */
export async function serveChatModule<C extends AnyContract>(
  nc: NatsConnection,
  contract: C,
  handlers: Handlers<C, AuthState>,
  o: ChatOptions,
  { auth = Object.keys(contract.methods), resolve, authCacheMs = o.authCacheMs, resources = [] }: ModuleServeOptions = {},
): Promise<Worker<C>> {
  const worker = await serveWithMetrics(
    nc,
    contract,
    handlers,
    {
      maxInFlight: o.maxInFlight,
      logger: o.logger,
      middleware: [storeErrors, authMiddleware({ methods: auth, resolve, cacheMs: authCacheMs })],
    },
    o.metrics,
  )
  if (resources.length === 0) return worker
  const stop = worker.stop.bind(worker)
  worker.stop = async () => {
    try {
      await stop()
    } finally {
      for (const r of resources) r.stop()
    }
  }
  return worker
}
