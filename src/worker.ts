import { nuid, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/nats-core'
import { decodeBody, encodeFailure, encodeOk } from './codec.ts'
import { compose } from './compose.ts'
import { CallContext, type ContextHost, type HandlerContext, type LiveContext } from './context.ts'
import type { AnyContract, InputOf, MethodName, OutputOf } from './contract.ts'
import { Backlog } from './backlog.ts'
import { isInstanceId } from './balancer.ts'
import { Endpoint, type EndpointStats } from './endpoint.ts'
import { toFailure, type Failure } from './failure.ts'
import { Header, readHeaders, wireHeaders } from './headers.ts'
import type { MetricsServer, MethodMetrics } from './metrics.ts'
import { subscribeMicro } from './micro.ts'
import { CallObserver, levelOn } from './observer.ts'
import { runInSpan, tracingFor, type CallSpan } from './trace.ts'
import { PendingTable } from './pending-table.ts'
import { publish } from './publisher.ts'
import { systemError } from './rpc-error.ts'
import { describeIssues, issuesOf, validatorsOf } from './validator.ts'
import { resolveWorkerOptions, type ResolvedWorkerOptions, type WorkerOptions } from './worker-options.ts'

/** A handler of one method, checked against the contract. */
export type Handler<C extends AnyContract, K extends MethodName<C>, State extends object = Record<string, unknown>> = (
  input: InputOf<C, K>,
  ctx: HandlerContext<C, K, State>,
) => OutputOf<C, K> | Promise<OutputOf<C, K>>

/** One handler per method of the contract. */
export type Handlers<C extends AnyContract, State extends object = Record<string, unknown>> = {
  readonly [K in MethodName<C>]: Handler<C, K, State>
}

const SERVICE_ERROR_MAX = 256

/** A running worker of one contract. Made by `serve()`. */
export class Worker<C extends AnyContract = AnyContract> implements ContextHost {
  readonly id: string
  readonly started = new Date()
  /** Contexts whose signal exists; at most maxInFlight, so the table never needs compacting. */
  readonly live = new PendingTable<LiveContext>()
  aborted = false
  readonly #endpoints = new Map<string, Endpoint>()
  readonly #subs: Subscription[] = []
  /** Sids of the direct subscriptions (this instance's own subjects). */
  readonly #direct = new Set<number>()
  /** `Rpc-Instance` for replies to calls that came through the queue group, once the direct subjects are served. */
  #advert: MsgHdrs | undefined = undefined
  #inFlight = 0
  readonly #backlog: Backlog<Waiting>
  #pumping = false
  #sweptAt = 0
  #idle: (() => void) | undefined = undefined
  #stopped: Promise<void> | undefined = undefined
  #observer: CallObserver | undefined = undefined
  #metricsServer: MetricsServer | undefined = undefined

  constructor(
    readonly nc: NatsConnection,
    readonly contract: C,
    handlers: Handlers<C, never>,
    readonly options: ResolvedWorkerOptions<object>,
  ) {
    this.id = options.instanceId ?? nuid.next()
    this.#backlog = new Backlog(options.maxQueued)
    const queue = options.queue ?? contract.name
    const table = handlers as unknown as Record<string, unknown>
    for (const name of Object.keys(table)) {
      if (typeof table[name] === 'function' && !Object.hasOwn(contract.methods, name)) {
        throw new TypeError(`${contract.name} has no method '${name}' to handle`)
      }
    }
    for (const [name, spec] of Object.entries(contract.methods)) {
      const fn = table[name]
      if (typeof fn !== 'function') throw new TypeError(`no handler for ${contract.name}.${name}`)
      const handler = fn as (input: unknown, ctx: CallContext<object>) => unknown
      const last = (ctx: CallContext<object>): unknown => handler.call(handlers, ctx.input, ctx)
      const subject = `${options.prefix}.${contract.name}.${name}`
      const run = options.middleware.length === 0 ? last : compose(options.middleware, async (ctx: CallContext<object>) => last(ctx))
      this.#endpoints.set(name, new Endpoint(name, subject, queue, spec, validatorsOf(spec), run))
    }
  }

  /** The connection and options clients made by `ctx.client()` use. */
  get clientOptions() {
    return this.options.client
  }

  /** Calls being handled now. */
  get inFlight(): number {
    return this.#inFlight
  }

  /** Calls received and waiting for a free slot (at most `maxQueued`). */
  get queued(): number {
    return this.#backlog.size
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
    await this.#observe()
    for (const e of this.#endpoints.values()) this.#subs.push(this.#subscribe(e.subject, queue, () => e))
    const wildcard = `${this.options.prefix}.${this.contract.name}.*`
    const offset = wildcard.length - 1
    this.#subs.push(this.#subscribe(wildcard, queue, (msg) => this.#endpoints.get(msg.subject.slice(offset))))
    if (this.options.micro) this.#subs.push(...subscribeMicro(this.nc, this))
    const direct: Subscription[] = []
    if (this.options.direct && isInstanceId(this.id)) {
      for (const e of this.#endpoints.values()) direct.push(this.#subscribe(`${e.subject}.${this.id}`, queue, () => e))
    }
    await this.nc.flush()
    this.#serveDirect(direct)
    const refused = this.#subs.filter((s) => s.isClosed())
    if (refused.length > 0) {
      await Promise.all(this.#subs.map((s) => s.drain().catch(() => undefined)))
      await this.#closeMetrics()
      const subjects = refused.map((s) => s.getSubject()).join(', ')
      throw new Error(`${this.contract.name} worker cannot subscribe to ${subjects}: check this connection's permissions`)
    }
    return this
  }

  /** Keeps the direct subscriptions and starts naming this instance in replies; or drops them all if any was refused. */
  #serveDirect(subs: Subscription[]): void {
    if (subs.length === 0) return
    if (subs.some((s) => s.isClosed())) {
      for (const s of subs) s.unsubscribe()
      this.options.logger.warn({ service: this.contract.name, id: this.id }, `cannot subscribe to this instance's own subjects (${subs[0]!.getSubject()}): serving the queue group only`)
      return
    }
    const lost = () => {
      if (this.#stopped === undefined) this.#advert = undefined
    }
    for (const s of subs) {
      this.#subs.push(s)
      this.#direct.add(s.getID())
      // a direct subscription closed while running (the server dropped it): stop sending clients to it
      s.closed.then(lost, lost)
    }
    this.#advert = wireHeaders({ [Header.Instance]: this.id })
  }

  #subscribe(subject: string, queue: string, route: (msg: Msg) => Endpoint | undefined): Subscription {
    return this.nc.subscribe(subject, {
      queue,
      callback: (err, msg) => {
        if (err !== null) return
        try {
          this.#dispatch(msg, route(msg))
        } catch (e) {
          // never let an exception reach nats.js: it would stop this connection's reader
          this.options.logger.error({ service: this.contract.name, subject: msg.subject, err: e }, 'dispatch failed')
        }
      },
    })
  }

  async #observe(): Promise<void> {
    const { logger, trace } = this.options
    const tracing = tracingFor(trace === 'auto' && levelOn(logger, 'debug') ? true : trace)
    let metrics: Map<string, MethodMetrics> | undefined
    if (this.options.metrics !== undefined) {
      const { RpcMetrics, resolveMetricsOptions, serveMetrics } = await import('./metrics.ts')
      const opts = resolveMetricsOptions(this.options.metrics)
      const set = new RpcMetrics(opts)
      metrics = new Map([...this.#endpoints.keys()].map((m) => [m, set.method(this.contract.name, m)]))
      if (opts.port !== undefined) this.#metricsServer = await serveMetrics(opts.registry, opts.port, opts.host)
    }
    const observer = new CallObserver(this.contract.name, logger, tracing, metrics)
    this.#observer = observer.active || levelOn(logger, 'error') ? observer : undefined
  }

  /**
   * Stops gracefully: takes no new calls, answers every call in flight, then closes the subscriptions.
   * Calls still running after `stopTimeout` ms get their signal aborted; stop() then waits for them to answer.
   * The connection stays open: it belongs to the caller.
   */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop()
    return this.#stopped
  }

  async #stop(): Promise<void> {
    try {
      await this.#drain()
    } finally {
      await this.#closeMetrics()
    }
  }

  async #drain(): Promise<void> {
    await Promise.all(this.#subs.map((s) => s.drain().catch(() => undefined)))
    if (this.#inFlight === 0 && this.#backlog.size === 0) return
    const idle = new Promise<void>((resolve) => (this.#idle = resolve))
    if ((await within(idle, this.options.stopTimeout)) === 'timeout') {
      this.aborted = true
      for (const w of this.#backlog.drain()) this.#refuse(w.msg, w.endpoint, 'UNAVAILABLE', 503, `${this.contract.name} worker ${this.id} stopped before the call started`)
      for (const live of this.live.entries()) live.ctx.abort(systemError('UNAVAILABLE', 'worker stopping'))
      if ((await within(idle, this.options.stopTimeout)) === 'timeout') {
        const message = `${this.#inFlight} call(s) still running after their signals were aborted: stopped without answering them`
        this.options.logger.error({ service: this.contract.name, id: this.id, inFlight: this.#inFlight }, message)
      }
    }
  }

  async #closeMetrics(): Promise<void> {
    await this.#metricsServer?.close()
    this.#metricsServer = undefined
  }

  #dispatch(msg: Msg, endpoint: Endpoint | undefined): void {
    if (endpoint === undefined) {
      const method = msg.subject.slice(msg.subject.lastIndexOf('.') + 1)
      this.#reply(msg, { code: 'UNIMPLEMENTED', status: 501, message: `${this.contract.name} ${this.contract.version} has no method '${method}'` })
      return
    }
    if (this.#inFlight >= this.options.maxInFlight) {
      if (this.#enqueue(msg, endpoint)) return
      const { maxInFlight, maxQueued } = this.options
      this.#refuse(msg, endpoint, 'RESOURCE_EXHAUSTED', 429, `${this.contract.name} worker ${this.id} is at its limit of ${maxInFlight} calls in flight and ${maxQueued} waiting`)
      return
    }
    this.#inFlight++
    this.#handle(msg, endpoint)
  }

  /**
   * Puts a call in the backlog. When it is full, the calls in it whose deadline has passed (their callers gave up)
   * are answered DEADLINE_EXCEEDED first, so they never crowd out live ones.
   */
  #enqueue(msg: Msg, endpoint: Endpoint): boolean {
    if (this.options.maxQueued === 0) return false
    const headers = readHeaders(msg)
    let deadline = Infinity
    try {
      deadline = parseDeadline(headers[Header.Deadline])
    } catch {
      // a bad deadline is answered INVALID_ARGUMENT when the call starts
    }
    const waiting = { msg, endpoint, headers, deadline, since: performance.now() }
    if (this.#backlog.offer(waiting)) return true
    const now = Date.now()
    // deadlines are whole ms: a full backlog is swept at most once per ms, not on every call that finds it full
    if (now === this.#sweptAt) return false
    this.#sweptAt = now
    const expired = this.#backlog.removeWhere((w) => w.deadline <= now)
    for (const w of expired) this.#refuse(w.msg, w.endpoint, 'DEADLINE_EXCEEDED', 504, `deadline passed while ${w.endpoint.subject} waited for a slot`)
    return this.#backlog.offer(waiting)
  }

  /** Answers a call that will not run (never started), and counts it. */
  #refuse(msg: Msg, endpoint: Endpoint, code: 'RESOURCE_EXHAUSTED' | 'UNAVAILABLE' | 'DEADLINE_EXCEEDED', status: number, message: string): void {
    const failure = { code, status, message }
    this.#reply(msg, failure)
    endpoint.record(0, `${status}:${message}`)
    this.#observer?.end(endpoint.name, readHeaders(msg)[Header.Id], 0, failure, undefined)
  }

  /** Starts waiting calls while slots are free; a loop, not recursion, when they finish synchronously. */
  #pump(): void {
    if (this.#pumping) return
    this.#pumping = true
    try {
      while (this.#inFlight < this.options.maxInFlight && !this.aborted) {
        const w = this.#backlog.take()
        if (w === undefined) break
        this.#inFlight++
        try {
          this.#handle(w.msg, w.endpoint, w.since, w.headers)
        } catch (e) {
          this.options.logger.error({ service: this.contract.name, subject: w.msg.subject, err: e }, 'dispatch failed')
        }
      }
    } finally {
      this.#pumping = false
    }
  }

  /**
   * Runs one call; answers synchronously when the handler and middleware are, else when the promise settles.
   * `t0` is when the call arrived: its processing time includes any wait in the backlog, whose entries bring the
   * headers already read from the message.
   */
  #handle(msg: Msg, e: Endpoint, t0 = performance.now(), read?: Record<string, string>): void {
    let ctx: CallContext<object>
    let headers: Record<string, string> | undefined
    let span: CallSpan | undefined
    let out: unknown
    try {
      headers = read ?? readHeaders(msg)
      const tracing = this.#observer?.tracing
      if (tracing !== undefined) span = tracing.start('server', this.contract.name, e.name, headers[Header.TraceParent])
      const deadline = parseDeadline(headers[Header.Deadline])
      if (deadline <= Date.now()) throw systemError('DEADLINE_EXCEEDED', `deadline passed before ${e.subject} ran`)
      let input: unknown
      try {
        input = decodeBody(msg.data)
      } catch (err) {
        throw systemError('INVALID_ARGUMENT', `body is not valid msgpack: ${(err as Error).message}`)
      }
      if (!e.validators.input.Check(input)) {
        const issues = issuesOf(e.validators.input, input)
        throw systemError('INVALID_ARGUMENT', `invalid input for ${this.contract.name}.${e.name}: ${describeIssues(issues)}`, { issues })
      }
      ctx = new CallContext(this, this.contract.name, e.name, e.subject, headers[Header.Id] ?? nuid.next(), deadline, headers, input)
    } catch (err) {
      this.#finish(msg, e, t0, undefined, headers?.[Header.Id], span, undefined, err)
      return
    }
    try {
      if (span === undefined) out = e.run(ctx)
      else {
        const c = ctx
        c.span = span
        out = span.otelContext === undefined ? e.run(c) : runInSpan(span, () => e.run(c))
      }
    } catch (err) {
      this.#finish(msg, e, t0, ctx, ctx.id, span, undefined, err)
      return
    }
    if (isThenable(out)) {
      Promise.resolve(out).then(
        (v) => this.#finish(msg, e, t0, ctx, ctx.id, span, v, NO_ERROR),
        (err: unknown) => this.#finish(msg, e, t0, ctx, ctx.id, span, undefined, err),
      )
    } else this.#finish(msg, e, t0, ctx, ctx.id, span, out, NO_ERROR)
  }

  /** Answers a call (its result, or `err` as an error envelope), then counts and observes it. Never throws. */
  #finish(msg: Msg, e: Endpoint, t0: number, ctx: CallContext<object> | undefined, id: string | undefined, span: CallSpan | undefined, out: unknown, err: unknown): void {
    let failure: Failure | undefined
    try {
      if (err === NO_ERROR && ctx !== undefined) err = this.#checkResult(e, ctx, out)
      if (err === NO_ERROR) {
        try {
          this.#respond(msg, encodeOk(out), undefined)
        } catch (encodeErr) {
          err = encodeErr
        }
      }
      if (err !== NO_ERROR) {
        failure = toFailure(err, e.spec, this.options.logger, { service: this.contract.name, method: e.name, id })
        this.#reply(msg, failure)
      }
    } finally {
      ctx?.dispose()
      const ms = performance.now() - t0
      e.record(ms, failure && `${failure.status}:${failure.message}`)
      try {
        this.#observer?.end(e.name, id, ms, failure, span)
      } finally {
        this.#inFlight--
        if (this.#backlog.size > 0) this.#pump()
        if (this.#inFlight === 0 && this.#backlog.size === 0) this.#idle?.()
      }
    }
  }

  /** NO_ERROR for a result that may go out; otherwise the error to send instead. */
  #checkResult(e: Endpoint, ctx: CallContext<object>, out: unknown): unknown {
    if (ctx.expired) return systemError('DEADLINE_EXCEEDED', `${e.subject} finished after its deadline`)
    if (this.options.validateOutput && !e.validators.output.Check(out)) {
      this.options.logger.error({ service: this.contract.name, method: e.name, id: ctx.id, issues: issuesOf(e.validators.output, out) }, 'handler output does not match the contract')
      return systemError('INTERNAL', 'internal error: result does not match the contract')
    }
    return NO_ERROR
  }

  #reply(msg: Msg, f: Failure): void {
    let body: Uint8Array
    try {
      body = encodeFailure(f.code, f.message, f.data)
    } catch {
      body = encodeFailure(f.code, f.message)
    }
    this.#respond(msg, body, f)
  }

  #respond(msg: Msg, body: Uint8Array, f: Failure | undefined): void {
    if (msg.reply === undefined || msg.reply === '') return
    try {
      const advert = this.#advert !== undefined && this.#stopped === undefined && !this.#direct.has(msg.sid) ? this.#advert : undefined
      const headers =
        f === undefined
          ? advert
          : wireHeaders({ [Header.ServiceError]: headerSafe(f.message), [Header.ServiceErrorCode]: String(f.status), ...(advert && { [Header.Instance]: this.id }) })
      publish(this.nc, msg.reply, '', headers, body)
    } catch (err) {
      if (f?.code === 'RESOURCE_EXHAUSTED' || this.nc.isClosed()) return
      const message = `reply of ${body.length} bytes is over the server's max_payload`
      this.options.logger.warn({ service: this.contract.name, subject: msg.subject, err }, message)
      this.#respond(msg, encodeFailure('RESOURCE_EXHAUSTED', message), { code: 'RESOURCE_EXHAUSTED', status: 429, message })
    }
  }
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

/** Marks a call that ended without an error (a handler may throw `undefined`). */
const NO_ERROR: unique symbol = Symbol('no error')

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof (v as PromiseLike<unknown> | null)?.then === 'function'
}

function parseDeadline(raw: string | undefined): number {
  if (raw === undefined) return Infinity
  const n = Number(raw)
  if (!Number.isSafeInteger(n) || n <= 0) throw systemError('INVALID_ARGUMENT', `bad ${Header.Deadline} header: '${raw.slice(0, 32)}'`)
  return n
}

function headerSafe(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').slice(0, SERVICE_ERROR_MAX)
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
