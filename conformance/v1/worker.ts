import { RpcError, serve, silentLogger, type Handlers, type Worker, type WorkerOptions } from 'switchboard'
import type { NatsConnection } from '@nats-io/nats-core'
import { Conformance } from './contract.ts'

/** The instance id the reference worker serves as (`{id}` in the vectors). */
export const REFERENCE_ID = 'conformance-1'

/** What an `ids` call saw. */
function seen(ctx: { id: string; deadline: number; headers: Readonly<Record<string, string>> }) {
  const h = ctx.headers
  return {
    id: ctx.id,
    ...(Number.isFinite(ctx.deadline) && { deadline: ctx.deadline }),
    ...(h.traceparent !== undefined && { traceparent: h.traceparent }),
    ...(h.tracestate !== undefined && { tracestate: h.tracestate }),
    ...(h.Authorization !== undefined && { authorization: h.Authorization }),
  }
}

/** The handlers of the conformance contract: the behaviour each method's description states. */
export const handlers: Handlers<typeof Conformance> = {
  echo: ({ text, n, nested }) => ({ text, ...(n !== undefined && { n }), ...(nested !== undefined && { nested }) }),
  nothing: () => undefined,
  fail({ kind, code, message, data }) {
    switch (kind) {
      case 'ok':
        return { done: true }
      case 'throw':
        throw new RpcError(code ?? 'INTERNAL', message ?? '', { data })
      case 'crash':
        throw new Error(message ?? 'crash')
      case 'bad-output':
        return { done: 'no' } as never
    }
  },
  async slow({ ms }) {
    await new Promise((resolve) => setTimeout(resolve, ms))
    return { slept: ms }
  },
  async ids({ nested }, ctx) {
    const own = seen(ctx)
    if (nested !== true) return own
    const inner = await ctx.client(Conformance).ids({})
    return { ...own, nested: inner }
  },
  big: ({ bytes }) => ({ blob: 'x'.repeat(bytes) }),
}

/**
 * Serves the conformance contract on `nc` as instance REFERENCE_ID, without its own tracing (an incoming
 * `traceparent` is passed on as is) and with nested calls through the queue group (no balancing).
 */
export function serveReference(nc: NatsConnection, options: WorkerOptions = {}): Promise<Worker<typeof Conformance>> {
  return serve(nc, Conformance, handlers, {
    instanceId: REFERENCE_ID,
    trace: false,
    logger: silentLogger,
    client: { balance: false, trace: false },
    ...options,
  })
}

// `tsx conformance/v1/worker.ts [nats-url]`: serves the reference worker until SIGINT/SIGTERM.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { connect } = await import('@nats-io/transport-node')
  const nc = await connect({ servers: process.argv[2] ?? 'nats://127.0.0.1:4222' })
  const worker = await serveReference(nc)
  console.error(`conformance worker ${worker.id} serving rpc.conformance.* on ${nc.getServer()}`)
  const stop = async () => {
    await worker.stop()
    await nc.close()
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}
