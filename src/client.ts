import { nuid, type NatsConnection } from '@nats-io/nats-core'
import { DEFAULT_BALANCE, type BalanceOptions } from './balancer.ts'
import { Call, type CallSettings, type ClientContext } from './call.ts'
import { callerOf } from './caller.ts'
import { compose, type Middleware } from './compose.ts'
import type { AnyContract, InputOf, MethodName, OutputOf } from './contract.ts'
import { Header, type HeaderRecord } from './headers.ts'
import { DEFAULT_RETRY, type RetryOptions } from './retry.ts'
import { RpcError, systemError } from './rpc-error.ts'
import { tracingFor, type CallSpan, type TraceMode } from './trace.ts'

export type { ClientContext } from './call.ts'

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
  /**
   * Client-side load balancing (default on): each call goes to the worker instance this connection has the fewest
   * calls in flight to, among the instances it has heard from, on the instance's own subject
   * (`<prefix>.<service>.<method>.<instanceId>`); every `exploreEvery`th call still goes through the queue group to
   * find new instances. A call whose instance has gone is sent again through the queue group at once. Direct calls
   * start once a probe per service finds that the server lets this connection publish to instance subjects.
   * `false`: every call goes through the queue group, which picks a worker at random.
   */
  readonly balance?: boolean | Partial<BalanceOptions>
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
  readonly balance: BalanceOptions | false
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
  balance: DEFAULT_BALANCE,
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
    balance: resolveBalance(options.balance),
  }
}

function resolveBalance(option: boolean | Partial<BalanceOptions> | undefined): BalanceOptions | false {
  if (option === false) return false
  if (option === undefined || option === true) return DEFAULT_BALANCE
  const b = { ...DEFAULT_BALANCE, ...option }
  for (const k of ['exploreEvery', 'maxInstances'] as const) {
    if (!Number.isInteger(b[k]) || b[k] < 1) throw new TypeError(`balance.${k} must be an integer >= 1, got ${b[k]}`)
  }
  return b
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
  const balancer = opts.balance === false ? undefined : caller.balancerOf(`${opts.prefix}.${contract.name}`, opts.balance)
  const settings: CallSettings = { caller, retry: opts.retry, validateInput: opts.validateInput, balancer }
  const run = compose(opts.middleware, (call: Call) => call.send())
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
    const signal = either(call?.signal, scope?.signal)
    const ctx = new Call(contract.name, method, subject, input, headers, deadline, signal, contract.methods[method]!, settings)
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

async function withCallSite<T>(p: Promise<T>, site: Error): Promise<T> {
  try {
    return await p
  } catch (err) {
    if (err instanceof Error && site.stack !== undefined) err.stack = `${err.stack}\n    --- called from ---\n${site.stack.split('\n').slice(1).join('\n')}`
    throw err
  }
}
