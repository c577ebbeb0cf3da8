import { nuid, type Msg, type NatsConnection } from '@nats-io/nats-core'
import { decodeEnvelope, encodeBody } from './codec.ts'
import { OK, RETRYABLE_CODES, SystemCode, isSystemCode } from './codes.ts'
import { compose, type Middleware } from './compose.ts'
import type { AnyContract, InputOf, MethodName, MethodSpec, OutputOf } from './contract.ts'
import { callerOf, type Caller } from './caller.ts'
import { Header, readHeaders, wireHeaders, type HeaderRecord } from './headers.ts'
import { DEFAULT_RETRY, attemptTimeout, backoff, sleep, type RetryOptions } from './retry.ts'
import { RpcError, systemError } from './rpc-error.ts'
import { tracingFor, type CallSpan, type TraceMode } from './trace.ts'
import { describeIssues, issuesOf, validatorsOf } from './validator.ts'

/** Options of one call. */
export interface CallOptions {
  /** Milliseconds until the call gives up with DEADLINE_EXCEEDED (retries included). */
  readonly timeout?: number
  /** Aborting it ends the call with CANCELLED. */
  readonly signal?: AbortSignal
  /** Extra request headers. */
  readonly headers?: HeaderRecord
  /** The call's `Rpc-Id`; one is made when absent. It stays the same on every retry. */
  readonly id?: string
}

/** What client middleware sees of a call. Middleware may change `input` and `headers` before `next()`. */
export interface ClientContext {
  readonly service: string
  readonly method: string
  readonly subject: string
  input: unknown
  readonly headers: Record<string, string>
  /** Absolute deadline, epoch ms. */
  readonly deadline: number
  readonly signal: AbortSignal | undefined
}

/** Middleware around every call of a client: `(ctx, next) => Promise<output>`. */
export type ClientMiddleware = Middleware<ClientContext, unknown>

/** Options of a client; unset fields take their value from DEFAULT_CLIENT_OPTIONS. */
export interface ClientOptions {
  /** Default timeout of a call, in ms. */
  readonly timeout?: number
  /** Headers sent with every call, such as `Authorization`. */
  readonly headers?: HeaderRecord
  /** Subject prefix: calls go to `<prefix>.<service>.<method>`. */
  readonly prefix?: string
  readonly retry?: Partial<RetryOptions>
  readonly middleware?: readonly ClientMiddleware[]
  /** Check input against the schema before sending (INVALID_ARGUMENT without a network trip). */
  readonly validateInput?: boolean
  /** Append the call site's stack to errors (costs a stack capture per call). */
  readonly captureStack?: boolean
  /**
   * W3C trace context per call: `'auto'` makes a client span when an OpenTelemetry SDK is registered; `true` always
   * sends a `traceparent` (a new trace, or a child of the one passed on); `false` never adds one.
   */
  readonly trace?: TraceMode
}

export interface ResolvedClientOptions {
  readonly timeout: number
  readonly headers: HeaderRecord
  readonly prefix: string
  readonly retry: RetryOptions
  readonly middleware: readonly ClientMiddleware[]
  readonly validateInput: boolean
  readonly captureStack: boolean
  readonly trace: TraceMode
}

export const DEFAULT_CLIENT_OPTIONS: ResolvedClientOptions = Object.freeze({
  timeout: 5_000,
  headers: Object.freeze({}),
  prefix: 'rpc',
  retry: DEFAULT_RETRY,
  middleware: Object.freeze([]) as readonly ClientMiddleware[],
  validateInput: true,
  captureStack: false,
  trace: 'auto',
})

/** Fills unset options from DEFAULT_CLIENT_OPTIONS; never changes its argument. */
export function resolveClientOptions(options: ClientOptions = {}): ResolvedClientOptions {
  const d = DEFAULT_CLIENT_OPTIONS
  const timeout = checkTimeout(options.timeout ?? d.timeout)
  const attempts = options.retry?.attempts ?? d.retry.attempts
  if (!Number.isInteger(attempts) || attempts < 1) throw new TypeError(`retry.attempts must be an integer >= 1, got ${attempts}`)
  return {
    timeout,
    headers: { ...d.headers, ...options.headers },
    prefix: options.prefix ?? d.prefix,
    retry: { ...d.retry, ...options.retry },
    middleware: [...(options.middleware ?? d.middleware)],
    validateInput: options.validateInput ?? d.validateInput,
    captureStack: options.captureStack ?? d.captureStack,
    trace: options.trace ?? d.trace,
  }
}

/** A timeout must be a finite, positive number of ms. */
function checkTimeout(ms: number): number {
  if (!(ms > 0) || !Number.isFinite(ms)) throw new TypeError(`timeout must be a finite, positive number of ms, got ${ms}`)
  return ms
}

/** Inherited by calls made inside a handler: the caller's deadline, ids and pass-through headers. */
export interface CallScope {
  readonly deadline: number
  readonly headers: HeaderRecord
  readonly nextId: () => string
  readonly signal?: AbortSignal
}

/** The typed client of a contract: one async function per method. */
export type Client<C extends AnyContract> = {
  readonly [K in MethodName<C>]: (input: InputOf<C, K>, options?: CallOptions) => Promise<OutputOf<C, K>>
} & {
  /** The untyped core every method goes through. */
  readonly $call: (method: string, input: unknown, options?: CallOptions) => Promise<unknown>
  readonly $contract: C
  readonly $options: ResolvedClientOptions
}

/**
 * A typed client for `contract` over `nc`. Cheap: every client on one connection shares one reply subscription.
 *
 * ```ts
 * const users = client(nc, User, { timeout: 2_000 })
 * const { userId } = await users.register({ username: 'alice', password: 'correct horse' })
 * ```
 */
export function client<C extends AnyContract>(nc: NatsConnection, contract: C, options?: ClientOptions): Client<C> {
  return createClient(nc, contract, resolveClientOptions(options))
}

/** @internal A client whose calls inherit `scope` (used for calls made inside handlers). */
export function createClient<C extends AnyContract>(nc: NatsConnection, contract: C, opts: ResolvedClientOptions, scope?: CallScope): Client<C> {
  const caller = callerOf(nc)
  const last = (ctx: ClientContext) => send(caller, contract.methods[ctx.method]!, ctx, opts)
  const run = compose(opts.middleware, last)
  const subjects = new Map(Object.keys(contract.methods).map((m) => [m, `${opts.prefix}.${contract.name}.${m}`]))
  const tracing = tracingFor(opts.trace)
  const $call = (method: string, input: unknown, call?: CallOptions): Promise<unknown> => {
    const subject = subjects.get(method)
    if (subject === undefined) return Promise.reject(systemError('UNIMPLEMENTED', `${contract.name} has no method '${method}'`))
    const now = Date.now()
    let timeout = opts.timeout
    if (call?.timeout !== undefined) {
      try {
        timeout = checkTimeout(call.timeout)
      } catch (err) {
        return Promise.reject(systemError('INVALID_ARGUMENT', (err as Error).message))
      }
    }
    let deadline = now + timeout
    if (scope !== undefined && scope.deadline < deadline) deadline = scope.deadline
    const headers: Record<string, string> = { ...scope?.headers, ...opts.headers, ...call?.headers }
    headers[Header.Id] = call?.id ?? scope?.nextId() ?? nuid.next()
    const ctx: ClientContext = { service: contract.name, method, subject, input, headers, deadline, signal: either(call?.signal, scope?.signal) }
    let span: CallSpan | undefined
    if (tracing !== undefined) {
      span = tracing.start('client', contract.name, method, headers[Header.TraceParent])
      headers[Header.TraceParent] = span.traceparent
    }
    let p = run(ctx)
    if (span !== undefined) p = p.then(...ended(span))
    return opts.captureStack ? withCallSite(p, new Error('call site')) : p
  }
  const api: Record<string, unknown> = { $call, $contract: contract, $options: opts }
  for (const method of Object.keys(contract.methods)) {
    api[method] = (input: unknown, call?: CallOptions) => $call(method, input, call)
  }
  return Object.freeze(api) as Client<C>
}

/** The one signal, or one that aborts when either does. */
function either(a: AbortSignal | undefined, b: AbortSignal | undefined): AbortSignal | undefined {
  return a === undefined ? b : b === undefined ? a : AbortSignal.any([a, b])
}

function ended(span: CallSpan): [(v: unknown) => unknown, (err: unknown) => never] {
  return [
    (v) => {
      span.end('OK')
      return v
    },
    (err) => {
      span.end(err instanceof RpcError ? err.code : 'INTERNAL', (err as Error)?.message)
      throw err
    },
  ]
}

function send(caller: Caller, spec: MethodSpec, ctx: ClientContext, opts: ResolvedClientOptions): Promise<unknown> {
  if (opts.validateInput) {
    const v = validatorsOf(spec).input
    if (!v.Check(ctx.input)) {
      const issues = issuesOf(v, ctx.input)
      return Promise.reject(systemError('INVALID_ARGUMENT', `invalid input for ${ctx.service}.${ctx.method}: ${describeIssues(issues)}`, { issues }))
    }
  }
  let body: Uint8Array
  try {
    body = encodeBody(ctx.input)
  } catch (err) {
    return Promise.reject(systemError('INVALID_ARGUMENT', `input for ${ctx.service}.${ctx.method} cannot be encoded: ${(err as Error).message}`, undefined, err))
  }
  const retry = opts.retry
  if (spec.idempotent !== true || retry.attempts <= 1) return sendOnce(caller, spec, ctx, body, ctx.deadline - Date.now())
  const first = sendOnce(caller, spec, ctx, body, shareOf(ctx, retry.attempts))
  return first.catch((err: unknown) => {
    if (!(err instanceof RpcError && RETRYABLE_CODES.has(err.code))) throw err
    return sendWithRetry(caller, spec, ctx, body, retry, 2)
  })
}

/** Attempts `from` onwards of an idempotent call, after a backoff each. */
async function sendWithRetry(caller: Caller, spec: MethodSpec, ctx: ClientContext, body: Uint8Array, retry: RetryOptions, from: number): Promise<unknown> {
  for (let attempt = from; ; attempt++) {
    const wait = Math.min(backoff(retry, attempt), Math.max(0, ctx.deadline - Date.now() - 1))
    try {
      await sleep(wait, ctx.signal)
    } catch (reason) {
      throw systemError('CANCELLED', `call to ${ctx.subject} cancelled`, undefined, reason)
    }
    try {
      return await sendOnce(caller, spec, ctx, body, shareOf(ctx, retry.attempts - attempt + 1))
    } catch (err) {
      const again = attempt < retry.attempts && err instanceof RpcError && RETRYABLE_CODES.has(err.code)
      if (!again) throw err
    }
  }
}

/** The time an attempt gets: its share of what is left of the deadline (0 when nothing is left). */
function shareOf(ctx: ClientContext, attemptsLeft: number): number {
  const remaining = ctx.deadline - Date.now()
  return remaining <= 0 ? 0 : attemptTimeout(remaining, attemptsLeft)
}

function sendOnce(caller: Caller, spec: MethodSpec, ctx: ClientContext, body: Uint8Array, timeout: number): Promise<unknown> {
  if (timeout <= 0) return Promise.reject(systemError('DEADLINE_EXCEEDED', `deadline of ${ctx.service}.${ctx.method} passed before it was sent`))
  let headers
  try {
    headers = wireHeaders(ctx.headers, Header.Deadline, String(Date.now() + timeout))
  } catch (err) {
    return Promise.reject(err)
  }
  return caller.request(ctx.subject, body, headers, timeout, ctx.signal).then((msg) => resultOf(spec, ctx, msg))
}

function resultOf(spec: MethodSpec, ctx: ClientContext, msg: Msg): unknown {
  const env = decodeEnvelope(msg.data)
  if (env === undefined) throw systemError('INTERNAL', `malformed reply from ${ctx.subject}`)
  if (env.status === OK) return (env as { result: unknown }).result
  const { status: code, message, data } = env as { status: string; message: string; data?: unknown }
  throw new RpcError(code, message, { status: statusOf(spec, code, msg), data })
}

function statusOf(spec: MethodSpec, code: string, msg: Msg): number {
  if (isSystemCode(code)) return SystemCode[code]
  if (spec.errors !== undefined && Object.hasOwn(spec.errors, code)) return spec.errors[code]!.status
  const n = Number(readHeaders(msg)[Header.ServiceErrorCode])
  return Number.isInteger(n) && n > 0 ? n : 500
}

async function withCallSite<T>(p: Promise<T>, site: Error): Promise<T> {
  try {
    return await p
  } catch (err) {
    if (err instanceof Error && site.stack !== undefined) err.stack = `${err.stack}\n    --- called from ---\n${site.stack.split('\n').slice(1).join('\n')}`
    throw err
  }
}
