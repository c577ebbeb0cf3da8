import type { Middleware } from '../compose.ts'
import type { HeaderRecord } from '../wire/headers.ts'
import type { TraceMode } from '../ops/trace.ts'
import { DEFAULT_BALANCE, type BalanceOptions } from './balancer.ts'
import type { ClientContext } from './call.ts'
import { DEFAULT_RETRY, type RetryOptions } from './retry.ts'
import { DEFAULT_SKEW, type SkewOptions } from './skew-watch.ts'
import { DEFAULT_STREAM, resolveStreamOptions, type StreamOptions } from './stream-options.ts'

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
  /**
   * Contract skew detection (default off; on in the chat gateway): from the first call on, compares this client's
   * contract with what the service's instances publish in `$SRV.INFO`, reports each instance whose contract
   * differs once (logger, `onSkew`), and keeps calls of methods an instance lacks off it (docs/evolution.md).
   */
  readonly skew?: boolean | Partial<SkewOptions>
  /** How stream methods are read: flow-control credit, heartbeat, idle timeout (protocol §10). */
  readonly stream?: Partial<StreamOptions>
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
  readonly skew: SkewOptions | false
  readonly stream: StreamOptions
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
  skew: false,
  stream: DEFAULT_STREAM,
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
    skew: resolveSkew(options.skew),
    stream: options.stream === undefined ? d.stream : resolveStreamOptions(options.stream),
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

function resolveSkew(option: boolean | Partial<SkewOptions> | undefined): SkewOptions | false {
  if (option === undefined || option === false) return false
  const s = option === true ? DEFAULT_SKEW : { ...DEFAULT_SKEW, ...option }
  for (const k of ['intervalMs', 'wait'] as const) {
    if (!(s[k] > 0) || !Number.isFinite(s[k])) throw new TypeError(`skew.${k} must be a finite, positive number of ms, got ${s[k]}`)
  }
  return s
}

/** A timeout must be a finite, positive number of ms. */
export function checkTimeout(ms: number): number {
  if (!(ms > 0) || !Number.isFinite(ms)) throw new TypeError(`timeout must be a finite, positive number of ms, got ${ms}`)
  return ms
}
