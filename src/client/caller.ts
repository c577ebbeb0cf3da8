import { createInbox, InvalidArgumentError, PermissionViolationError, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/nats-core'
import { isRpcError, systemError, type RpcError } from '../rpc-error.ts'
import { PendingTable } from '../util/pending-table.ts'
import { inboxPrefixOf, subjectBytesOf, transportUp } from '../wire/nats-internals.ts'
import { headersLength, publish } from '../wire/publisher.ts'

/**
 * How often pending calls are checked for their deadline: a call fails with DEADLINE_EXCEEDED at most this many
 * ms after its timeout. One sweep timer per connection instead of a setTimeout per call (the per-call timer
 * cost ~1 µs of CPU and garbage per call on the bench:rpc hot path).
 */
export const DEFAULT_DEADLINE_SWEEP_MS = 10

/** How long `mayPublish()` waits for the server to refuse a subject before it takes silence for consent, in ms. */
export const DEFAULT_PROBE_MS = 2_000

const EMPTY = new Uint8Array(0)

/**
 * What the Caller knows of a call that failed without an answer. No worker got the request: `unsent` (it failed
 * before it was published) or `no-responders` (nobody subscribes its subject). `refused`: the server refused the
 * request's subject (permissions), which also fails calls to it delivered before a permissions reload. `timeout`:
 * no reply by its deadline.
 */
export const Fate = { unsent: 'unsent', noResponders: 'no-responders', refused: 'refused', timeout: 'timeout' } as const
export type Fate = (typeof Fate)[keyof typeof Fate]

/**
 * Where a request's outcome goes: `reply` with the reply message, or `fail` with why there is none and, when the
 * Caller knows it, the request's fate.
 */
export interface ReplySink<A> {
  reply(arg: A, msg: Msg): void
  fail(arg: A, err: RpcError, fate: Fate | undefined): void
}

class Pending {
  token = 0
  signal: AbortSignal | undefined = undefined
  onAbort: (() => void) | undefined = undefined
  constructor(
    readonly subject: string,
    /** performance.now() after which the call fails with DEADLINE_EXCEEDED. */
    readonly deadline: number,
    readonly timeoutMs: number,
    readonly sink: ReplySink<unknown>,
    readonly arg: unknown,
  ) {}
}

/**
 * The untyped request core: one reply subscription per connection and a table of pending calls (PendingTable),
 * instead of nats.js `request()` (a stack trace, a timer and a promise race per call).
 * Knows the connection's state, so calls fail fast with UNAVAILABLE while it is down.
 */
export class Caller {
  readonly nc: NatsConnection
  readonly #prefix: string
  readonly #pending = new PendingTable<Pending>()
  #sub: Subscription | undefined = undefined
  #up = true
  #sweeper: ReturnType<typeof setInterval> | undefined = undefined
  #watching = false

  constructor(nc: NatsConnection) {
    this.nc = nc
    this.#prefix = createInbox(inboxPrefixOf(nc))
  }

  /**
   * Whether the server lets this connection publish to `subject`, by sending it an empty request: true when the
   * server took it (no responders, a reply, or no refusal within `timeoutMs`), false when it refused it, undefined
   * when the connection failed first.
   */
  mayPublish(subject: string, timeoutMs = DEFAULT_PROBE_MS): Promise<boolean | undefined> {
    return new Promise((resolve) => {
      const sink: ReplySink<undefined> = {
        reply: () => resolve(true),
        fail: (_, _err, fate) => resolve(fate === Fate.noResponders || fate === Fate.timeout ? true : fate === Fate.refused ? false : undefined),
      }
      this.send(subject, EMPTY, undefined, timeoutMs, undefined, sink, undefined)
    })
  }

  /** Calls in flight. */
  get pending(): number {
    return this.#pending.size
  }

  /**
   * Whether the connection is up: a call made while it is not fails at once with UNAVAILABLE. Until the first call
   * starts watching `nc.status()`, the connection's own state says (a first call during an outage fails fast too).
   */
  get connected(): boolean {
    if (this.nc.isClosed()) return false
    return this.#watching ? this.#up : transportUp(this.nc)
  }

  /**
   * Publishes one request; its reply goes to `sink.reply(arg, msg)`, or its failure to `sink.fail(arg, err)`:
   * UNAVAILABLE (no responders, connection down), DEADLINE_EXCEEDED, CANCELLED, PERMISSION_DENIED or
   * RESOURCE_EXHAUSTED (over the server's max_payload). Never throws; the sink may be called before this returns.
   * Callbacks instead of a promise: the client settles one promise per call, across all its attempts.
   */
  send<A>(
    subject: string,
    body: Uint8Array,
    headers: MsgHdrs | undefined,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    sink: ReplySink<A>,
    arg: A,
  ): void {
    if (!this.connected) return sink.fail(arg, systemError('UNAVAILABLE', `not connected to NATS: cannot call ${subject}`), undefined)
    if (signal?.aborted) return sink.fail(arg, cancelled(subject, signal.reason), undefined)
    const max = this.nc.info?.max_payload
    if (max !== undefined && body.length > max) return sink.fail(arg, tooLarge(subject, body.length, max), undefined)
    if (this.#sub === undefined) {
      try {
        this.#start()
      } catch (err) {
        return sink.fail(arg, systemError('UNAVAILABLE', `cannot receive replies: ${(err as Error).message}`, undefined, err), Fate.unsent)
      }
    }
    const p = new Pending(subject, performance.now() + timeoutMs, timeoutMs, sink as ReplySink<unknown>, arg)
    const token = this.#pending.add(p)
    this.#sweeper ??= setInterval(() => this.#sweep(), DEFAULT_DEADLINE_SWEEP_MS)
    if (signal !== undefined) {
      p.signal = signal
      p.onAbort = () => this.#fail(token, cancelled(subject, signal.reason), undefined)
      signal.addEventListener('abort', p.onAbort, { once: true })
    }
    try {
      publish(this.nc, subject, `${this.#prefix}.${token.toString(36)}`, headers, body)
    } catch (err) {
      // only the headers can have taken the request over max_payload here: the body alone was checked above
      if (err instanceof InvalidArgumentError && max !== undefined && body.length + headersLength(headers) > max)
        this.#fail(token, tooLarge(subject, body.length, max), undefined)
      else this.#fail(token, systemError('UNAVAILABLE', `cannot publish to ${subject}: ${(err as Error).message}`, undefined, err), Fate.unsent)
    }
  }

  #start(): void {
    const offset = this.#prefix.length + 1
    const byteOffset = Buffer.byteLength(this.#prefix) + 1
    this.#sub = this.nc.subscribe(`${this.#prefix}.*`, {
      callback: (err, msg) => {
        if (err !== null) return this.#inboxRefused(err)
        const p = this.#take(tokenOf(msg, offset, byteOffset))
        if (p === undefined) return
        if (msg.data.length === 0 && noResponders(msg)) {
          p.sink.fail(p.arg, systemError('UNAVAILABLE', `no worker serves ${p.subject}`), Fate.noResponders)
        } else if (performance.now() > p.deadline) {
          // the sweep has not run yet, but the reply is late: the worker gave up at the same deadline
          p.sink.fail(p.arg, timedOut(p), Fate.timeout)
        } else p.sink.reply(p.arg, msg)
      },
    })
    if (!this.#watching) {
      this.#watching = true
      this.#up = transportUp(this.nc)
      void this.#watch()
    }
  }

  /** The server refused the reply subscription: every pending call fails now, and the next call subscribes again. */
  #inboxRefused(err: Error): void {
    this.#sub = undefined
    const reason = `cannot receive replies on ${this.#prefix}.*: ${err.message} (set the connection's inboxPrefix to an inbox this user may subscribe to)`
    for (const p of this.#pending.entries()) this.#fail(p.token, systemError('PERMISSION_DENIED', reason, undefined, err), undefined)
  }

  /** The server refused a publish: the pending calls to that subject fail now instead of at their deadline. */
  #publishRefused(subject: string, err: Error): void {
    for (const p of this.#pending.entries()) {
      if (p.subject === subject)
        this.#fail(p.token, systemError('PERMISSION_DENIED', `not allowed to call ${subject}: ${err.message}`, undefined, err), Fate.refused)
    }
  }

  async #watch(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') {
        this.#up = false
        this.#failAll('connection to NATS lost')
      } else if (s.type === 'reconnect') this.#up = true
      else if (s.type === 'error' && s.error instanceof PermissionViolationError && s.error.operation === 'publish')
        this.#publishRefused(s.error.subject, s.error)
    }
    this.#failAll('connection to NATS closed')
  }

  /** Fails the calls past their deadline; stops itself when nothing is pending (so an idle connection has no timer). */
  #sweep(): void {
    this.#pending.compact()
    if (this.#pending.size === 0) {
      clearInterval(this.#sweeper)
      this.#sweeper = undefined
      return
    }
    const now = performance.now()
    for (const p of this.#pending.entries()) {
      if (p.deadline <= now) this.#fail(p.token, timedOut(p), Fate.timeout)
    }
  }

  #take(token: number): Pending | undefined {
    const p = this.#pending.take(token)
    if (p === undefined) return undefined
    if (p.onAbort !== undefined) p.signal!.removeEventListener('abort', p.onAbort)
    return p
  }

  #fail(token: number, err: RpcError, fate: Fate | undefined): void {
    const p = this.#take(token)
    p?.sink.fail(p.arg, err, fate)
  }

  #failAll(reason: string): void {
    for (const p of this.#pending.entries()) this.#fail(p.token, systemError('UNAVAILABLE', reason), undefined)
  }
}

/**
 * The pending-call token at the end of a reply subject (base 36), read from the message's subject bytes when the
 * nats.js internals are there (no subject string is decoded), else from `msg.subject`. NaN when it is not one.
 */
function tokenOf(msg: Msg, offset: number, byteOffset: number): number {
  const bytes = subjectBytesOf(msg)
  if (bytes === undefined) return parseToken(msg.subject.slice(offset))
  if (bytes[byteOffset] === 48) return NaN // tokens have no leading zero
  let n = 0
  for (let i = byteOffset; i < bytes.length; i++) {
    const b = bytes[i]!
    const digit = b >= 48 && b <= 57 ? b - 48 : b >= 97 && b <= 122 ? b - 87 : -1
    if (digit < 0) return NaN
    n = n * 36 + digit
  }
  return bytes.length > byteOffset ? n : NaN
}

function parseToken(s: string): number {
  return /^[1-9a-z][0-9a-z]*$/.test(s) ? parseInt(s, 36) : NaN
}

function timedOut(p: Pending): RpcError {
  return systemError('DEADLINE_EXCEEDED', `no reply from ${p.subject} within ${p.timeoutMs} ms`)
}

/**
 * The error of a call whose signal aborted: CANCELLED, or DEADLINE_EXCEEDED when the signal is a handler's own
 * deadline firing (`ctx.signal` aborts with a DEADLINE_EXCEEDED RpcError), so nested calls cut off by the deadline
 * report the deadline, as the outer call does.
 */
export function cancelled(subject: string, reason: unknown): RpcError {
  if (isRpcError(reason) && reason.code === 'DEADLINE_EXCEEDED')
    return systemError('DEADLINE_EXCEEDED', `call to ${subject} cut off at the caller's deadline`, undefined, reason)
  return systemError('CANCELLED', `call to ${subject} cancelled`, undefined, reason)
}

/** The server's no-responders status (503), read without letting a malformed header throw. */
function noResponders(msg: Msg): boolean {
  try {
    return msg.headers?.code === 503
  } catch {
    return false
  }
}

function tooLarge(subject: string, size: number, max: number): RpcError {
  return systemError('RESOURCE_EXHAUSTED', `request to ${subject} is ${size} bytes, over the server's max_payload of ${max} bytes`, { size, max })
}

const callers = new WeakMap<NatsConnection, Caller>()

/** The one Caller of a connection, shared by every client on it. */
export function callerOf(nc: NatsConnection): Caller {
  let c = callers.get(nc)
  if (c === undefined) callers.set(nc, (c = new Caller(nc)))
  return c
}
