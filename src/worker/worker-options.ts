import { resolveClientOptions, type ClientOptions, type ResolvedClientOptions } from '../client/client-options.ts'
import type { Middleware } from '../compose.ts'
import type { CallContext } from './context.ts'
import { stderrLogger, type Logger } from '../logger.ts'
import type { MetricsOptions } from '../ops/metrics.ts'
import type { TraceMode } from '../ops/trace.ts'

/** Middleware around every handler of a worker: `(ctx, next) => Promise<output>`. */
export type WorkerMiddleware<State extends object = Record<string, unknown>> = Middleware<CallContext<State>, unknown>

/** Options of a worker; unset fields take their value from DEFAULT_WORKER_OPTIONS. */
export interface WorkerOptions<State extends object = Record<string, unknown>> {
  /** Subject prefix: the worker serves `<prefix>.<service>.<method>`. */
  readonly prefix?: string
  /** Queue group; the service name by default. */
  readonly queue?: string
  /** Calls run at once; past it calls wait in the backlog (`maxQueued`), and past that get RESOURCE_EXHAUSTED. */
  readonly maxInFlight?: number
  /**
   * Calls that may wait, first in first out, for one of the `maxInFlight` slots instead of being refused at once
   * with RESOURCE_EXHAUSTED. A waiting call still has its deadline: one that passes before it starts gets
   * DEADLINE_EXCEEDED without running. 0 refuses every call past `maxInFlight`. Default: half of `maxInFlight`,
   * rounded up (500 with the default 1,000): a queue group routes calls at random, so a worker that is full for a
   * moment while others have room queues a few calls instead of failing them. A queued call holds its message
   * (memory: up to `maxQueued` bodies of up to `max_payload` each, as in-flight calls do), and one without an
   * `Rpc-Deadline` (a non-Switchboard caller) waits for its turn however long it takes.
   */
  readonly maxQueued?: number
  /** Check each result against the output schema (INTERNAL when it does not match). */
  readonly validateOutput?: boolean
  readonly middleware?: readonly WorkerMiddleware<State>[]
  readonly logger?: Logger
  /**
   * How long stop() waits for calls in flight before it aborts their signals, in ms; and then as long again for
   * them to answer, before it gives up on the ones that ignore their signal (logged as an error).
   */
  readonly stopTimeout?: number
  /** Options of the clients that handlers get from `ctx.client()`. */
  readonly client?: ClientOptions
  /** This instance's id (NATS micro `id`); random by default. */
  readonly instanceId?: string
  /**
   * Also serve each method on this instance's own subject, `<prefix>.<service>.<method>.<instanceId>` (same queue
   * group), and name the instance (`Rpc-Instance`) in replies to calls that came through the queue group, so that
   * clients can balance their calls by load (client option `balance`). Off when the instance id is not one NATS
   * token of at most 64 characters, or when the server refuses the subscriptions (the worker then serves only the
   * queue group, and logs a warning).
   */
  readonly direct?: boolean
  /** Answer NATS micro discovery (`$SRV.PING|INFO|STATS`). */
  readonly micro?: boolean
  /** Prometheus metrics per method (prom-client); `{ port }` also serves `GET /metrics` from start() to stop(). */
  readonly metrics?: boolean | MetricsOptions
  /**
   * W3C trace context per call: `'auto'` continues or starts a trace when an OpenTelemetry SDK is registered or the
   * logger writes debug lines; `true` always; `false` never (incoming `traceparent` is still passed on as is).
   */
  readonly trace?: TraceMode
}

export interface ResolvedWorkerOptions<State extends object = Record<string, unknown>> {
  readonly prefix: string
  readonly queue: string | undefined
  readonly maxInFlight: number
  readonly maxQueued: number
  readonly validateOutput: boolean
  readonly middleware: readonly WorkerMiddleware<State>[]
  readonly logger: Logger
  readonly stopTimeout: number
  readonly client: ResolvedClientOptions
  readonly instanceId: string | undefined
  readonly direct: boolean
  readonly micro: boolean
  readonly metrics: MetricsOptions | undefined
  readonly trace: TraceMode
}

export const DEFAULT_WORKER_OPTIONS: ResolvedWorkerOptions = Object.freeze({
  prefix: 'rpc',
  queue: undefined,
  maxInFlight: 1_000,
  maxQueued: 500,
  validateOutput: true,
  middleware: Object.freeze([]) as readonly WorkerMiddleware[],
  logger: stderrLogger('error'),
  stopTimeout: 10_000,
  client: resolveClientOptions(),
  instanceId: undefined,
  direct: true,
  micro: true,
  metrics: undefined,
  trace: 'auto',
})

/** Fills unset options from DEFAULT_WORKER_OPTIONS; never changes its argument. */
export function resolveWorkerOptions<State extends object>(options: WorkerOptions<State> = {}): ResolvedWorkerOptions<State> {
  const d = DEFAULT_WORKER_OPTIONS
  const maxInFlight = options.maxInFlight ?? d.maxInFlight
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new TypeError(`maxInFlight must be a positive integer, got ${maxInFlight}`)
  const maxQueued = options.maxQueued ?? (options.maxInFlight === undefined ? d.maxQueued : Math.ceil(maxInFlight / 2))
  if (!Number.isInteger(maxQueued) || maxQueued < 0) throw new TypeError(`maxQueued must be an integer >= 0, got ${maxQueued}`)
  return {
    prefix: options.prefix ?? d.prefix,
    queue: options.queue ?? d.queue,
    maxInFlight,
    maxQueued,
    validateOutput: options.validateOutput ?? d.validateOutput,
    middleware: [...(options.middleware ?? [])],
    logger: options.logger ?? d.logger,
    stopTimeout: options.stopTimeout ?? d.stopTimeout,
    client: options.client === undefined ? d.client : resolveClientOptions(options.client),
    instanceId: options.instanceId ?? d.instanceId,
    direct: options.direct ?? d.direct,
    micro: options.micro ?? d.micro,
    metrics: options.metrics === true ? {} : options.metrics === false ? undefined : (options.metrics ?? d.metrics),
    trace: options.trace ?? d.trace,
  }
}
