import type { NatsConnection } from '@nats-io/nats-core'
import { createClient, type Client } from '../client/client.ts'
import { resolveClientOptions, type ClientOptions, type ResolvedClientOptions } from '../client/client-options.ts'
import type { SystemCode } from '../codes.ts'
import type { AnyContract, DeclaredCode, DeclaredData, MethodName } from '../contract.ts'
import { Header, type HeaderRecord } from '../wire/headers.ts'
import type { PendingTable } from '../util/pending-table.ts'
import { RpcError } from '../rpc-error.ts'
import type { CallSpan } from '../ops/trace.ts'

/** setTimeout's limit (~24.8 days): a later deadline arms no timer (the signal then fires only at stop). */
const MAX_TIMER_MS = 2 ** 31 - 1

/** Headers a nested call carries over from the call that made it. */
const PASSED_ON = [Header.Authorization, Header.TraceParent, Header.TraceState] as const

/** A context whose signal exists, under its token in the worker's table. */
export interface LiveContext {
  token: number
  readonly ctx: { abort(reason: unknown): void }
}

/** What the worker shares with every context it makes. */
export interface ContextHost {
  readonly nc: NatsConnection
  readonly clientOptions: ResolvedClientOptions
  /** Contexts whose signal exists, so that stop() can abort them (a table, not a Set: see pending-table.ts). */
  readonly live: PendingTable<LiveContext>
  readonly aborted: boolean
}

/** One call as a worker received it. */
export interface CallInfo {
  readonly service: string
  readonly method: string
  readonly subject: string
  /** The call's `Rpc-Id`. */
  readonly id: string
  /** Absolute deadline, epoch ms; Infinity when the caller set none. */
  readonly deadline: number
  readonly headers: HeaderRecord
  /** The decoded, validated input. */
  readonly input: unknown
}

/**
 * The context of one call on the worker side: identity, deadline, headers, a signal,
 * per-call `state` for middleware, and nested calls that inherit the deadline and pass-through headers.
 */
export class CallContext<State extends object = Record<string, unknown>> {
  #state: State | undefined = undefined
  /** The span of this call when tracing is on: its trace and span ids; nested calls become its children. */
  span: CallSpan | undefined = undefined
  #controller: AbortController | undefined = undefined
  #timer: ReturnType<typeof setTimeout> | undefined = undefined
  #live: LiveContext | undefined = undefined
  #children = 0
  #expired = false

  readonly service: string
  readonly method: string
  readonly subject: string
  /** The call's `Rpc-Id`. */
  readonly id: string
  /** Absolute deadline, epoch ms; Infinity when the caller set none. */
  readonly deadline: number
  /** The request headers. */
  readonly headers: HeaderRecord
  /** The decoded, validated input. */
  input: unknown

  constructor(
    readonly host: ContextHost,
    init: CallInfo,
  ) {
    this.service = init.service
    this.method = init.method
    this.subject = init.subject
    this.id = init.id
    this.deadline = init.deadline
    this.headers = init.headers
    this.input = init.input
  }

  /** Set by middleware, read by handlers (e.g. the authenticated user). Made on first use. */
  get state(): State {
    return (this.#state ??= {} as State)
  }

  /** Fires at the deadline, or when the worker's stop() grace period runs out. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      const c = (this.#controller = new AbortController())
      if (this.host.aborted) c.abort(new RpcError('UNAVAILABLE', 'worker stopping'))
      else {
        this.host.live.add((this.#live = { token: 0, ctx: this }))
        const left = this.deadline - Date.now()
        if (left <= MAX_TIMER_MS) {
          this.#timer = setTimeout(
            () => {
              this.#expired = true
              c.abort(new RpcError('DEADLINE_EXCEEDED', 'deadline passed'))
            },
            Math.max(0, left),
          )
        }
      }
    }
    return this.#controller.signal
  }

  /** Whether the deadline has passed (by the clock, or because the signal's deadline timer fired at it). */
  get expired(): boolean {
    return this.#expired || Date.now() >= this.deadline
  }

  /** Milliseconds left until the deadline. */
  get remaining(): number {
    return this.deadline - Date.now()
  }

  /** A typed client whose calls pass on the remaining deadline, a derived `Rpc-Id`, trace context and `Authorization`. */
  client<D extends AnyContract>(contract: D, options?: ClientOptions): Client<D> {
    const headers: Record<string, string> = {}
    for (const h of PASSED_ON) if (this.headers[h] !== undefined) headers[h] = this.headers[h]
    if (this.span !== undefined) headers[Header.TraceParent] = this.span.traceparent
    const base = this.host.clientOptions
    const opts =
      options === undefined
        ? base
        : resolveClientOptions({ ...base, ...options, headers: { ...base.headers, ...options.headers }, retry: { ...base.retry, ...options.retry } })
    const ctx = this
    return createClient(this.host.nc, contract, opts, {
      deadline: this.deadline,
      headers,
      nextId: () => `${this.id}.${++this.#children}`,
      get signal() {
        return ctx.signal
      },
    })
  }

  /** Makes the error to throw for a declared or system code (typed per method in handlers). */
  error(code: string, message: string, data?: unknown): RpcError {
    return new RpcError(code, message, { data })
  }

  /** @internal Aborts the signal, if anyone asked for it. */
  abort(reason: unknown): void {
    this.#controller?.abort(reason)
  }

  /** @internal Releases the timer once the call is answered. */
  dispose(): void {
    if (this.#controller === undefined) return
    clearTimeout(this.#timer)
    if (this.#live !== undefined) this.host.live.take(this.#live.token)
  }
}

/** The context a handler of `contract.method` gets: `error()` takes that method's codes with their typed data. */
export interface HandlerContext<C extends AnyContract, K extends MethodName<C>, State extends object> extends CallContext<State> {
  readonly method: K
  /** Makes the error to throw for a declared or system code; `data` is typed by the contract. */
  error<Code extends DeclaredCode<C, K> | SystemCode>(
    code: Code,
    message: string,
    ...data: Code extends DeclaredCode<C, K> ? (DeclaredData<C, K, Code> extends undefined ? [] : [data: DeclaredData<C, K, Code>]) : [data?: unknown]
  ): RpcError<Code>
}
