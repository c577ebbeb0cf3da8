import { nuid, type NatsConnection } from '@nats-io/nats-core'
import { Call, type CallSettings } from './call.ts'
import { balancerOf } from './balancer-registry.ts'
import { callerOf } from './caller.ts'
import { skewWatchOf } from './skew-watch.ts'
import { compose } from '../compose.ts'
import { isStreamMethod, type AnyContract, type InputOf, type ItemOf, type MethodName, type OutputOf, type StreamMethodSpec } from '../contract.ts'
import { Header, type HeaderRecord } from '../wire/headers.ts'
import { checkTimeout, resolveClientOptions, type ClientOptions, type ResolvedClientOptions } from './client-options.ts'
import { RpcError, systemError } from '../rpc-error.ts'
import { tracingFor, type CallSpan } from '../ops/trace.ts'
import { failedStream, StreamCall, type RpcStream, type StreamSettings } from './stream-call.ts'
import { streamInboxOf } from './stream-inbox.ts'

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

/** Inherited by calls made inside a handler: the caller's deadline, ids and pass-through headers. */
export interface CallScope {
  readonly deadline: number
  readonly headers: HeaderRecord
  readonly nextId: () => string
  readonly signal?: AbortSignal
}

/**
 * The typed client of a contract: one function per method. A unary method returns a promise of its output; a stream
 * method returns an RpcStream of its items, for `for await` (the call starts when the loop does).
 */
export type Client<C extends AnyContract> = {
  readonly [K in MethodName<C>]: C['methods'][K] extends StreamMethodSpec
    ? (input: InputOf<C, K>, options?: CallOptions) => RpcStream<ItemOf<C, K>>
    : (input: InputOf<C, K>, options?: CallOptions) => Promise<OutputOf<C, K>>
} & {
  /** The untyped core every unary method goes through. */
  readonly $call: (method: string, input: unknown, options?: CallOptions) => Promise<unknown>
  /** The untyped core every stream method goes through. */
  readonly $stream: (method: string, input: unknown, options?: CallOptions) => RpcStream<unknown>
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
  const balancer = opts.balance === false ? undefined : balancerOf(nc, `${opts.prefix}.${contract.name}`, opts.balance)
  const settings: CallSettings = { caller, retry: opts.retry, validateInput: opts.validateInput, balancer }
  const skew = opts.skew === false ? undefined : skewWatchOf(nc, contract, opts.prefix, opts.skew, balancer)
  const run = compose(opts.middleware, (call: Call) => call.send())
  const names = Object.keys(contract.methods)
  const subjects = new Map(names.filter((m) => !isStreamMethod(contract.methods[m]!)).map((m) => [m, `${opts.prefix}.${contract.name}.${m}`]))
  const streams = new Map(names.filter((m) => isStreamMethod(contract.methods[m]!)).map((m) => [m, `${opts.prefix}.${contract.name}.${m}`]))
  const tracing = tracingFor(opts.trace)
  const $call = (method: string, input: unknown, call?: CallOptions): Promise<unknown> => {
    const subject = subjects.get(method)
    if (subject === undefined) return Promise.reject(noMethod(contract, method, streams.has(method)))
    skew?.touch()
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
    const ctx = new Call({ service: contract.name, method, subject, input, headers, deadline, signal, spec: contract.methods[method]! }, settings)
    let span: CallSpan | undefined
    if (tracing !== undefined) {
      span = tracing.start('client', contract.name, method, headers[Header.TraceParent], { subject, server: nc.getServer() })
      headers[Header.TraceParent] = span.traceparent
    }
    let p = run(ctx)
    if (span !== undefined) p = p.then(...ended(span))
    return opts.captureStack ? withCallSite(p, new Error('call site')) : p
  }
  let stream: StreamSettings | undefined
  const $stream = (method: string, input: unknown, call?: CallOptions): RpcStream<unknown> => {
    const subject = streams.get(method)
    if (subject === undefined) return failedStream(noMethod(contract, method, false, subjects.has(method)))
    let timeout = opts.timeout
    try {
      if (call?.timeout !== undefined) timeout = checkTimeout(call.timeout)
    } catch (err) {
      return failedStream(systemError('INVALID_ARGUMENT', (err as Error).message))
    }
    let deadline = Date.now() + timeout
    if (scope !== undefined && scope.deadline < deadline) deadline = scope.deadline
    const headers: Record<string, string> = { ...scope?.headers, ...opts.headers, ...call?.headers }
    headers[Header.Id] = call?.id ?? scope?.nextId() ?? nuid.next()
    const signal = either(call?.signal, scope?.signal)
    stream ??= {
      inbox: streamInboxOf(nc),
      run: compose(opts.middleware, (s: StreamCall) => s.open()),
      validateInput: opts.validateInput,
      options: opts.stream,
      prefix: opts.prefix,
      tracing,
    }
    return new StreamCall({ service: contract.name, method, subject, input, headers, deadline, signal, spec: contract.methods[method]! }, stream)
  }
  const api: Record<string, unknown> = { $call, $stream, $contract: contract, $options: opts }
  for (const method of names) {
    api[method] = streams.has(method)
      ? (input: unknown, call?: CallOptions) => $stream(method, input, call)
      : (input: unknown, call?: CallOptions) => $call(method, input, call)
  }
  return Object.freeze(api) as Client<C>
}

/** Why a call names no method of its kind: none of that name, or one that is called the other way. */
function noMethod(contract: AnyContract, method: string, isStream: boolean, isUnary = false): RpcError {
  if (isStream) return systemError('INVALID_ARGUMENT', `${contract.name}.${method} is a stream method: iterate it (client.${method}() or $stream)`)
  if (isUnary) return systemError('INVALID_ARGUMENT', `${contract.name}.${method} is not a stream method: call it (client.${method}() or $call)`)
  return systemError('UNIMPLEMENTED', `${contract.name} has no method '${method}'`)
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
