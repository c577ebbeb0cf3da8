import { nuid, type Msg, type NatsConnection, type Subscription } from '@nats-io/nats-core'
import { compose } from '../compose.ts'
import { isStreamMethod, type AnyContract, type InputOf, type ItemOf, type MethodName, type OutputOf, type StreamMethodSpec } from '../contract.ts'
import type { MetricsServer, MethodMetrics } from '../ops/metrics.ts'
import { subscribeMicro } from '../ops/micro.ts'
import { CallObserver, levelOn } from '../ops/observer.ts'
import { tracingFor } from '../ops/trace.ts'
import { systemError } from '../rpc-error.ts'
import { PendingTable } from '../util/pending-table.ts'
import { validatorsOf } from '../validator.ts'
import { readHeaders, Header } from '../wire/headers.ts'
import { isInstanceId, methodSubject } from '../wire/subjects.ts'
import { Admission, Refusal } from './admission.ts'
import type { CallContext, ContextHost, HandlerContext, LiveContext } from './context.ts'
import { Endpoint, type EndpointStats } from './endpoint.ts'
import { CallPipeline, parseDeadline } from './pipeline.ts'
import { Responder } from './responder.ts'
import { StreamTable } from './stream-table.ts'
import { resolveWorkerOptions, type ResolvedWorkerOptions, type WorkerOptions } from './worker-options.ts'

/**
 * A handler of one method, checked against the contract: for a unary method it returns the output (or a promise of
 * it); for a stream method it returns the items, as an async iterable (an `async function*`) or an iterable. A
 * stream handler is asked for each next item only once the caller has room for it, and `ctx.signal` fires when the
 * stream stops early (the caller cancelled, the deadline, the worker stopping).
 */
export type Handler<C extends AnyContract, K extends MethodName<C>, State extends object = Record<string, unknown>> = C['methods'][K] extends StreamMethodSpec
  ? (input: InputOf<C, K>, ctx: HandlerContext<C, K, State>) => AsyncIterable<ItemOf<C, K>> | Iterable<ItemOf<C, K>>
  : (input: InputOf<C, K>, ctx: HandlerContext<C, K, State>) => OutputOf<C, K> | Promise<OutputOf<C, K>>

/** One handler per method of the contract. */
export type Handlers<C extends AnyContract, State extends object = Record<string, unknown>> = {
  readonly [K in MethodName<C>]: Handler<C, K, State>
}

/** A call received while every slot was taken. */
interface Waiting {
  readonly msg: Msg
  readonly endpoint: Endpoint
  readonly headers: Record<string, string>
  /** Its Rpc-Deadline, epoch ms (Infinity without one). */
  readonly deadline: number
  /** performance.now() when it arrived. */
  readonly since: number
}

/**
 * A running worker of one contract. Made by `serve()`. It holds the subscriptions and the lifecycle; admission
 * (`Admission`), the call path (`CallPipeline`) and replies (`Responder`) are units of their own.
 */
export class Worker<C extends AnyContract = AnyContract> implements ContextHost {
  readonly id: string
  readonly started = new Date()
  /** Contexts whose signal exists; at most maxInFlight, so the table never needs compacting. */
  readonly live = new PendingTable<LiveContext>()
  aborted = false
  readonly #endpoints = new Map<string, Endpoint>()
  readonly #subs: Subscription[] = []
  readonly #admission: Admission<Waiting>
  readonly #responder: Responder
  /** The open streams, when the contract has stream methods. */
  readonly #streams: StreamTable | undefined
  #pipeline: CallPipeline
  #stopped: Promise<void> | undefined = undefined
  #metricsServer: MetricsServer | undefined = undefined

  constructor(
    readonly nc: NatsConnection,
    readonly contract: C,
    handlers: Handlers<C, never>,
    readonly options: ResolvedWorkerOptions<object>,
  ) {
    this.id = options.instanceId ?? nuid.next()
    const queue = options.queue ?? contract.name
    const table = handlers as unknown as Record<string, unknown>
    for (const name of Object.keys(table)) {
      if (typeof table[name] === 'function' && !Object.hasOwn(contract.methods, name)) {
        throw new TypeError(`${contract.name} has no method '${name}' to handle`)
      }
    }
    const streamed = Object.values(contract.methods).some(isStreamMethod)
    const worker = isInstanceId(this.id) ? this.id : nuid.next()
    const { logger, validateOutput, prefix } = options
    const streams = (this.#streams = streamed ? new StreamTable({ nc, logger, service: contract.name, validateOutput, prefix, worker }) : undefined)
    for (const [name, spec] of Object.entries(contract.methods)) {
      const fn = table[name]
      if (typeof fn !== 'function') throw new TypeError(`no handler for ${contract.name}.${name}`)
      const handler = fn as (input: unknown, ctx: CallContext<object>) => unknown
      // a stream handler's items go out through its sender; the chain settles when the last one is taken
      const last = !isStreamMethod(spec)
        ? (ctx: CallContext<object>): unknown => handler.call(handlers, ctx.input, ctx)
        : (ctx: CallContext<object>): unknown => streams!.senderOf(ctx).pump(handler.call(handlers, ctx.input, ctx))
      const run = options.middleware.length === 0 ? last : compose(options.middleware, async (ctx: CallContext<object>) => last(ctx))
      this.#endpoints.set(name, new Endpoint(name, methodSubject(options.prefix, contract.name, name), queue, spec, validatorsOf(spec), run))
    }
    this.#responder = new Responder(nc, options.logger, contract.name)
    this.#pipeline = this.#pipelineWith(undefined)
    this.#admission = new Admission<Waiting>(options, {
      start: (w) => this.#guarded(w.msg, () => this.#pipeline.run(w.msg, w.endpoint, w.since, w.headers)),
      refuse: (w, why) => this.#refuse(w, why),
    })
  }

  /** The connection and options clients made by `ctx.client()` use. */
  get clientOptions() {
    return this.options.client
  }

  /** Calls being handled now. */
  get inFlight(): number {
    return this.#admission.inFlight
  }

  /** Streams open now (each also counts as a call in flight while its handler runs). */
  get streams(): number {
    return this.#streams?.size ?? 0
  }

  /** Calls received and waiting for a free slot (at most `maxQueued`). */
  get queued(): number {
    return this.#admission.queued
  }

  /** Whether stop() was called. */
  get stopping(): boolean {
    return this.#stopped !== undefined
  }

  /** Per-method statistics, in contract order. */
  stats(): EndpointStats[] {
    return [...this.#endpoints.values()].map((e) => e.stats())
  }

  /** Zeroes the statistics. */
  resetStats(): void {
    for (const e of this.#endpoints.values()) e.reset()
  }

  /** The URL of `GET /metrics` when the `metrics.port` option is set and the worker runs. */
  get metricsUrl(): string | undefined {
    return this.#metricsServer?.url
  }

  /**
   * @internal Sets up metrics and tracing, subscribes every method subject, a catch-all for unknown methods, the
   * NATS micro discovery subjects and this instance's own method subjects, then flushes.
   */
  async start(): Promise<this> {
    const queue = this.options.queue ?? this.contract.name
    this.#pipeline = this.#pipelineWith(await this.#observe())
    for (const e of this.#endpoints.values()) this.#subs.push(this.#subscribe(e.subject, queue, () => e))
    const control = this.#streams?.start()
    const base = `${this.options.prefix}.${this.contract.name}.`
    // a catch-all shares its queue group with the method subjects, so it may get any call: it routes by the subject,
    // and answers methods this contract lacks as unknown (UNIMPLEMENTED, Rpc-Unknown-Method)
    const route = (subject: string, end: number) => {
      const m = subject.slice(base.length, end)
      return this.#endpoints.get(m) ?? m
    }
    this.#subs.push(this.#subscribe(`${base}*`, queue, (msg) => route(msg.subject, msg.subject.length)))
    if (this.options.micro) this.#subs.push(...subscribeMicro(this.nc, this))
    const direct: Subscription[] = []
    if (this.options.direct && isInstanceId(this.id)) {
      for (const e of this.#endpoints.values()) direct.push(this.#subscribe(`${e.subject}.${this.id}`, queue, () => e))
      const cut = this.id.length + 1
      direct.push(this.#subscribe(`${base}*.${this.id}`, queue, (msg) => route(msg.subject, msg.subject.length - cut)))
    }
    await this.nc.flush()
    this.#serveDirect(direct)
    const refused = [...this.#subs, ...(control === undefined ? [] : [control])].filter((s) => s.isClosed())
    if (refused.length > 0) {
      await Promise.all(this.#subs.map((s) => s.drain().catch(() => undefined)))
      await control?.drain().catch(() => undefined)
      await this.#closeMetrics()
      const subjects = refused.map((s) => s.getSubject()).join(', ')
      throw new Error(`${this.contract.name} worker cannot subscribe to ${subjects}: check this connection's permissions`)
    }
    return this
  }

  #pipelineWith(observer: CallObserver | undefined): CallPipeline {
    const { logger, validateOutput } = this.options
    const release = () => this.#admission.release()
    const streams = this.#streams
    return new CallPipeline({ service: this.contract.name, host: this, responder: this.#responder, observer, logger, validateOutput, release, streams })
  }

  /** Keeps the direct subscriptions and starts naming this instance in replies; or drops them all if any was refused. */
  #serveDirect(subs: Subscription[]): void {
    if (subs.length === 0) return
    if (subs.some((s) => s.isClosed())) {
      for (const s of subs) s.unsubscribe()
      this.options.logger.warn(
        { service: this.contract.name, id: this.id },
        `cannot subscribe to this instance's own subjects (${subs[0]!.getSubject()}): serving the queue group only`,
      )
      return
    }
    // a direct subscription closed while running (the server dropped it): stop sending clients to it
    const lost = () => this.#responder.withdraw()
    for (const s of subs) {
      this.#subs.push(s)
      s.closed.then(lost, lost)
    }
    this.#responder.advertise(this.id, new Set(subs.map((s) => s.getID())))
  }

  /** Subscribes `subject`; `route` names the endpoint of a message, or the method it asks for when there is none. */
  #subscribe(subject: string, queue: string, route: (msg: Msg) => Endpoint | string): Subscription {
    return this.nc.subscribe(subject, {
      queue,
      callback: (err, msg) => {
        if (err === null) this.#guarded(msg, () => this.#dispatch(msg, route(msg)))
      },
    })
  }

  /** Never lets an exception reach nats.js: it would stop this connection's reader. */
  #guarded(msg: Msg, f: () => void): void {
    try {
      f()
    } catch (e) {
      this.options.logger.error({ service: this.contract.name, subject: msg.subject, err: e }, 'dispatch failed')
    }
  }

  async #observe(): Promise<CallObserver | undefined> {
    const { logger, trace } = this.options
    const tracing = tracingFor(trace === 'auto' && levelOn(logger, 'debug') ? true : trace)
    let metrics: Map<string, MethodMetrics> | undefined
    if (this.options.metrics !== undefined) {
      const { RpcMetrics, resolveMetricsOptions, serveMetrics } = await import('../ops/metrics.ts')
      const opts = resolveMetricsOptions(this.options.metrics)
      const set = new RpcMetrics(opts)
      metrics = new Map([...this.#endpoints.keys()].map((m) => [m, set.method(this.contract.name, m)]))
      if (opts.port !== undefined) this.#metricsServer = await serveMetrics(opts.registry, opts.port, opts.host)
    }
    const observer = new CallObserver(this.contract.name, logger, tracing, metrics)
    return observer.active || levelOn(logger, 'error') ? observer : undefined
  }

  #dispatch(msg: Msg, endpoint: Endpoint | string): void {
    if (typeof endpoint === 'string') return this.#pipeline.unimplemented(msg, this.contract.version, endpoint)
    if (this.#admission.tryStart()) return this.#pipeline.run(msg, endpoint)
    if (this.options.maxQueued === 0) return this.#refuse({ msg, endpoint, headers: {}, deadline: Infinity, since: 0 }, Refusal.full)
    const headers = readHeaders(msg)
    let deadline = Infinity
    try {
      deadline = parseDeadline(headers[Header.Deadline])
    } catch {
      // a bad deadline is answered INVALID_ARGUMENT when the call starts
    }
    this.#admission.enqueue({ msg, endpoint, headers, deadline, since: performance.now() })
  }

  /** Answers a call that will not run. */
  #refuse(w: Waiting, why: Refusal): void {
    const { contract, id, options } = this
    const failure =
      why === Refusal.full
        ? {
            code: 'RESOURCE_EXHAUSTED',
            status: 429,
            message: `${contract.name} worker ${id} is at its limit of ${options.maxInFlight} calls in flight and ${options.maxQueued} waiting`,
          }
        : why === Refusal.expired
          ? { code: 'DEADLINE_EXCEEDED', status: 504, message: `deadline passed while ${w.endpoint.subject} waited for a slot` }
          : { code: 'UNAVAILABLE', status: 503, message: `${contract.name} worker ${id} stopped before the call started` }
    this.#pipeline.refuse(w.msg, w.endpoint, failure)
  }

  /**
   * Stops gracefully: takes no new calls, answers every call in flight, then closes the subscriptions. Open streams
   * end with UNAVAILABLE once no new call can arrive (their callers get the error after the items sent so far).
   * Calls still running after `stopTimeout` ms get their signal aborted; stop() then waits for them to answer.
   * The connection stays open: it belongs to the caller.
   */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop()
    return this.#stopped
  }

  async #stop(): Promise<void> {
    this.#responder.withdraw()
    try {
      await this.#drain()
    } finally {
      await this.#closeMetrics()
    }
  }

  async #drain(): Promise<void> {
    await Promise.all(this.#subs.map((s) => s.drain().catch(() => undefined)))
    // no more opens reach this worker now: its open streams end with UNAVAILABLE (protocol §10)
    await this.#streams?.close(this.options.stopTimeout)
    const idle = this.#admission.idle()
    if ((await within(idle, this.options.stopTimeout)) === 'timeout') {
      this.aborted = true
      this.#admission.close()
      for (const live of this.live.entries()) live.ctx.abort(systemError('UNAVAILABLE', 'worker stopping'))
      if ((await within(idle, this.options.stopTimeout)) === 'timeout') {
        const inFlight = this.#admission.inFlight
        const message = `${inFlight} call(s) still running after their signals were aborted: stopped without answering them`
        this.options.logger.error({ service: this.contract.name, id: this.id, inFlight }, message)
      }
    }
  }

  async #closeMetrics(): Promise<void> {
    await this.#metricsServer?.close()
    this.#metricsServer = undefined
  }
}

/** Resolves with 'idle' when `p` settles, or 'timeout' after `ms`. */
async function within(p: Promise<void>, ms: number): Promise<'idle' | 'timeout'> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<'timeout'>((resolve) => (timer = setTimeout(resolve, ms, 'timeout')))
  try {
    return await Promise.race([p.then(() => 'idle' as const), late])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Starts a worker for `contract`: subscribes `<prefix>.<service>.<method>` for every method in queue group
 * `<service>` (and the instance's own `<prefix>.<service>.<method>.<instanceId>`, unless `direct` is off), and
 * resolves once the server has the subscriptions.
 *
 * ```ts
 * const worker = await serve(nc, User, { async register(input, ctx) { ... } }, { maxInFlight: 256 })
 * process.once('SIGTERM', () => worker.stop())
 * ```
 */
export function serve<C extends AnyContract, State extends object = Record<string, unknown>>(
  nc: NatsConnection,
  contract: C,
  handlers: Handlers<C, State>,
  options?: WorkerOptions<State>,
): Promise<Worker<C>> {
  const opts = resolveWorkerOptions(options) as ResolvedWorkerOptions<object>
  return new Worker(nc, contract, handlers as Handlers<C, never>, opts).start()
}
