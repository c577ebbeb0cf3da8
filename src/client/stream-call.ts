import type { Msg } from '@nats-io/nats-core'
import { OK, SystemCode, isSystemCode } from '../codes.ts'
import type { MethodSpec } from '../contract.ts'
import type { CallSpan, Tracing } from '../ops/trace.ts'
import { RpcError, systemError } from '../rpc-error.ts'
import { describeIssues, issuesOf, validatorsOf } from '../validator.ts'
import { decodeBody, decodeEnvelope, encodeBody } from '../wire/codec.ts'
import { Header, readHeaders, wireHeaders } from '../wire/headers.ts'
import { CANCEL_HEADERS, Frame, STREAM_VERSION, StreamHeader, decimalOf, isControlSubject, isNoResponders, pullHeaders } from '../wire/stream-frames.ts'
import type { CallInit, ClientContext } from './call.ts'
import { cancelled } from './caller.ts'
import type { InboxStream, StreamInbox } from './stream-inbox.ts'
import type { StreamOptions } from './stream-options.ts'

/** setTimeout's limit (~24.8 days): a later deadline arms no timer. */
const MAX_TIMER_MS = 2 ** 31 - 1
/** Pulls a stream keeps out at once: enough to keep a worker busy while the answers to the others travel. */
export const MAX_PULLS = 4

/**
 * What a stream method returns: its items in order, for `for await`. The call is made when iteration starts, and
 * ends with the last item, or with an RpcError after the items that came before it (a declared code, the
 * deadline, UNAVAILABLE when the worker stopped or went silent). Leaving the loop early (`break`, a throw) cancels
 * the stream: the worker's handler sees its signal fire and is asked for no more items.
 */
export interface RpcStream<T> extends AsyncIterable<T> {
  [Symbol.asyncIterator](): AsyncIterator<T, undefined, undefined>
  /** Ends the stream now, as leaving the loop does: a pending `next()` resolves done. */
  cancel(): void
}

/** What a stream call needs of its client. */
export interface StreamSettings {
  readonly inbox: StreamInbox
  /** The client middleware around the open (see ClientMiddleware); resolves once the stream is open. */
  readonly run: (s: StreamCall) => Promise<unknown>
  readonly validateInput: boolean
  readonly options: StreamOptions
  /** The subject prefix control subjects must start with. */
  readonly prefix: string
  readonly tracing: Tracing | undefined
}

interface Waiter {
  resolve(r: IteratorResult<unknown, undefined>): void
  reject(err: unknown): void
}

/**
 * One outgoing stream (protocol §10): the context client middleware sees, the open request, the caller's side of
 * flow control (pulls of at most `credit` items in all beyond what the consumer has read), the frames as they come,
 * and the async iterator that hands the items out. Terminal errors come after the items received before them,
 * except an aborted signal, which ends the stream at once.
 */
export class StreamCall implements ClientContext, InboxStream, RpcStream<unknown>, AsyncIterator<unknown, undefined, undefined> {
  /** @internal Its token in the connection's StreamInbox. */
  token = 0
  readonly service: string
  readonly method: string
  readonly subject: string
  input: unknown
  readonly headers: Record<string, string>
  readonly deadline: number
  readonly signal: AbortSignal | undefined
  /** The control subject, once the worker's open frame named it. */
  control: string | undefined = undefined

  readonly #spec: MethodSpec
  readonly #settings: StreamSettings
  readonly #items: unknown[] = []
  #head = 0
  readonly #waiters: Waiter[] = []
  readonly #pulls = new Map<number, number>()
  #nextPull = 0
  /** Σ credit of the pulls out, and how many of them have none. */
  #outstanding = 0
  #zero = 0
  #received = 0
  #started = false
  #sent = false
  #opened = false
  /** The stream is over on the wire (an end, an error, a cancel): no more frames are taken. */
  #over = false
  /** Its end, once over: null for a normal end, else the error the consumer gets after the items. */
  #end: RpcError | null | undefined = undefined
  #lastFrame = 0
  #timer: ReturnType<typeof setInterval> | undefined = undefined
  #deadlineTimer: ReturnType<typeof setTimeout> | undefined = undefined
  #onAbort: (() => void) | undefined = undefined
  #opening: { resolve(): void; reject(err: unknown): void } | undefined = undefined
  #span: CallSpan | undefined = undefined

  constructor(init: CallInit, settings: StreamSettings) {
    this.service = init.service
    this.method = init.method
    this.subject = init.subject
    this.input = init.input
    this.headers = init.headers
    this.deadline = init.deadline
    this.signal = init.signal
    this.#spec = init.spec
    this.#settings = settings
  }

  /** Items received and not read yet. */
  get buffered(): number {
    return this.#items.length - this.#head
  }

  /** Items received so far. */
  get received(): number {
    return this.#received
  }

  /** Starts the call (once): the middleware, then the open request. */
  [Symbol.asyncIterator](): this {
    if (this.#started) return this
    this.#started = true
    const tracing = this.#settings.tracing
    if (tracing !== undefined) {
      this.#span = tracing.start('client', this.service, this.method, this.headers[Header.TraceParent], { subject: this.subject })
      this.headers[Header.TraceParent] = this.#span.traceparent
    }
    const signal = this.signal
    if (signal?.aborted) {
      this.#fail(cancelled(this.subject, signal.reason), true)
      return this
    }
    if (signal !== undefined) {
      this.#onAbort = () => this.#fail(cancelled(this.subject, signal.reason), true)
      signal.addEventListener('abort', this.#onAbort, { once: true })
    }
    const left = this.deadline - Date.now()
    if (left <= MAX_TIMER_MS) this.#deadlineTimer = setTimeout(() => this.#expire(), Math.max(0, left))
    this.#settings.run(this).then(
      () => {
        // middleware that answered without next(): there is no stream, so nothing in it
        if (!this.#sent) this.#finish(null)
      },
      (err: unknown) =>
        this.#fail(err instanceof RpcError ? err : systemError('INTERNAL', `stream middleware failed: ${(err as Error)?.message}`, undefined, err)),
    )
    return this
  }

  /**
   * The end of the client's middleware chain: checks and encodes `input`, sends the open request, and resolves once
   * the worker's open frame arrives (rejects with the error that ends the stream before that).
   */
  open(): Promise<void> {
    if (this.#over) return Promise.reject(this.#end ?? systemError('CANCELLED', `stream of ${this.subject} cancelled`))
    if (this.#settings.validateInput) {
      const v = validatorsOf(this.#spec).input
      if (!v.Check(this.input)) {
        const issues = issuesOf(v, this.input)
        return this.#failOpen(systemError('INVALID_ARGUMENT', `invalid input for ${this.service}.${this.method}: ${describeIssues(issues)}`, { issues }))
      }
    }
    let body: Uint8Array
    let headers: ReturnType<typeof wireHeaders>
    try {
      body = encodeBody(this.input)
      const { heartbeat } = this.#settings.options
      headers = wireHeaders(
        { ...this.headers, [StreamHeader.Stream]: STREAM_VERSION, [StreamHeader.Heartbeat]: String(heartbeat) },
        Header.Deadline,
        String(this.deadline),
      )
    } catch (err) {
      const e =
        err instanceof RpcError ? err : systemError('INVALID_ARGUMENT', `input for ${this.service}.${this.method} cannot be encoded: ${(err as Error).message}`)
      return this.#failOpen(e)
    }
    if (this.deadline <= Date.now())
      return this.#failOpen(systemError('DEADLINE_EXCEEDED', `deadline of ${this.service}.${this.method} passed before it was sent`))
    return new Promise<void>((resolve, reject) => {
      this.#opening = { resolve, reject }
      this.#sent = true
      const err = this.#settings.inbox.open(this, headers, body)
      if (err !== undefined) this.#fail(err)
    })
  }

  next(): Promise<IteratorResult<unknown, undefined>> {
    if (!this.#started) this[Symbol.asyncIterator]()
    if (this.#head < this.#items.length) return Promise.resolve({ value: this.#take(), done: false })
    if (this.#end !== undefined) return this.#settle()
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }))
  }

  /** Leaving a `for await` loop early: cancels the stream. */
  return(): Promise<IteratorResult<unknown, undefined>> {
    this.cancel()
    return Promise.resolve({ value: undefined, done: true })
  }

  cancel(): void {
    this.#items.length = this.#head = 0
    if (!this.#over) this.#fail(systemError('CANCELLED', `stream of ${this.subject} cancelled`), true, null)
    this.#end = null
  }

  /** @internal A frame of this stream, routed by the inbox. */
  frame(msg: Msg, pull: number | undefined): void {
    if (this.#over) return
    const h = readHeaders(msg)
    const kind = h[StreamHeader.Frame]
    if (pull === undefined) {
      if (this.#opened) return
      if (kind === undefined) return this.#plainReply(msg)
      if (kind === Frame.open) return this.#openFrame(h[StreamHeader.Control])
      if (kind === Frame.end) return this.#endFrame(msg, h)
      return this.#fail(systemError('INTERNAL', `malformed stream frame from ${this.subject}: '${kind.slice(0, 16)}' before the open frame`))
    }
    const credit = this.#pulls.get(pull)
    if (credit === undefined) return
    if (kind === undefined) {
      // the worker's control subscription is gone: it stopped or its connection did
      if (isNoResponders(msg))
        this.#fail(systemError('UNAVAILABLE', `the worker of the stream of ${this.subject} is gone (no responders on its control subject)`))
      return
    }
    const seq = decimalOf(h[StreamHeader.Seq])
    if (seq === undefined) return this.#fail(systemError('INTERNAL', `malformed stream frame from ${this.subject}: no ${StreamHeader.Seq}`))
    if (seq !== this.#received)
      return this.#fail(systemError('UNAVAILABLE', `stream of ${this.subject} lost frames: one for item ${seq + 1} came after ${this.#received} items`))
    this.#pulls.delete(pull)
    this.#outstanding -= credit
    if (credit === 0) this.#zero--
    this.#lastFrame = performance.now()
    if (kind === Frame.items) {
      let items: unknown
      try {
        items = decodeBody(msg.data)
      } catch (err) {
        return this.#fail(systemError('INTERNAL', `malformed stream frame from ${this.subject}: ${(err as Error).message}`))
      }
      if (!Array.isArray(items) || items.length === 0 || items.length > credit) {
        return this.#fail(systemError('INTERNAL', `malformed stream frame from ${this.subject}: not an array of 1 to ${credit} items`))
      }
      this.#received += items.length
      for (const item of items) this.#items.push(item)
      this.#deliver()
    } else if (kind === Frame.end) return this.#endFrame(msg, h)
    else if (kind === Frame.open) return this.#fail(systemError('INTERNAL', `malformed stream frame from ${this.subject}: a second open frame`))
    // a beat, or a kind this caller does not know: the answer to its pull, with nothing in it
    this.#refill()
  }

  /** @internal The stream ends without a frame saying so (connection, permissions). */
  fail(err: RpcError): void {
    this.#fail(err)
  }

  #openFrame(control: string | undefined): void {
    if (control === undefined || !isControlSubject(control, this.#settings.prefix, this.service)) {
      return this.#fail(systemError('INTERNAL', `malformed open frame from ${this.subject}: bad ${StreamHeader.Control} '${String(control).slice(0, 64)}'`))
    }
    this.control = control
    this.#opened = true
    this.#lastFrame = performance.now()
    const { heartbeat } = this.#settings.options
    this.#timer = setInterval(() => this.#tick(), heartbeat / 2)
    this.#opening?.resolve()
    this.#refill()
  }

  /** The answer to the open request came without a frame kind: an error before the stream started, or a unary reply. */
  #plainReply(msg: Msg): void {
    if (isNoResponders(msg)) return this.#fail(systemError('UNAVAILABLE', `no worker serves ${this.subject}`))
    const env = decodeEnvelope(msg.data)
    if (env === undefined) return this.#fail(systemError('INTERNAL', `malformed reply from ${this.subject}`))
    if (env.status === OK)
      return this.#fail(systemError('INTERNAL', `${this.subject} answered with one reply, not a stream: the worker's ${this.method} is not a stream method`))
    const { status: code, message, data } = env as { status: string; message: string; data?: unknown }
    this.#fail(new RpcError(code, message, { status: statusOf(this.#spec, code, readHeaders(msg)), data }))
  }

  #endFrame(msg: Msg, h: Record<string, string>): void {
    const seq = decimalOf(h[StreamHeader.Seq])
    if (seq !== this.#received)
      return this.#fail(systemError('UNAVAILABLE', `stream of ${this.subject} lost frames: its end says ${seq} items, ${this.#received} came`))
    const env = decodeEnvelope(msg.data)
    if (env === undefined) return this.#fail(systemError('INTERNAL', `malformed end frame from ${this.subject}`))
    if (env.status === OK) return this.#finish(null)
    const { status: code, message, data } = env as { status: string; message: string; data?: unknown }
    this.#finish(new RpcError(code, message, { status: statusOf(this.#spec, code, h), data }))
  }

  /**
   * Sends pulls of ⌈credit/MAX_PULLS⌉ while the consumer has that much room (at most `credit` items granted beyond
   * those read, at most MAX_PULLS pulls out); when it sends none, keeps one 0-credit pull out, so that the worker can
   * always beat and end, and hears from this caller after each of its frames.
   */
  #refill(): void {
    if (this.#over || !this.#opened) return
    const { credit } = this.#settings.options
    const chunk = Math.max(1, Math.ceil(credit / MAX_PULLS))
    let room = credit - this.buffered - this.#outstanding
    let sent = false
    while (this.#pulls.size < MAX_PULLS && room >= chunk) {
      if (!this.#pull(chunk)) return
      room -= chunk
      sent = true
    }
    if (!sent && this.#zero === 0) this.#pull(0)
  }

  #pull(credit: number): boolean {
    const id = ++this.#nextPull
    if (credit === 0) this.#zero++
    this.#pulls.set(id, credit)
    this.#outstanding += credit
    if (this.#settings.inbox.control(this, pullHeaders(credit), id)) return true
    this.#fail(systemError('UNAVAILABLE', `cannot send a pull to ${this.control}`))
    return false
  }

  #tick(): void {
    const silent = performance.now() - this.#lastFrame
    const { idleTimeout, heartbeat } = this.#settings.options
    if (silent >= idleTimeout) {
      this.#fail(
        systemError(
          'UNAVAILABLE',
          `no frame from the worker of ${this.subject} for ${Math.round(silent)} ms (heartbeat ${heartbeat} ms): it stopped or lost its connection`,
        ),
      )
    }
  }

  #expire(): void {
    this.#fail(systemError('DEADLINE_EXCEEDED', `stream of ${this.subject} passed its deadline after ${this.#received} items`))
  }

  #failOpen(err: RpcError): Promise<never> {
    this.#fail(err)
    return Promise.reject(err)
  }

  /** Ends the stream with `err`: after the items received (at once when `now`), telling the worker when it is open. */
  #fail(err: RpcError, now = false, end: RpcError | null = err): void {
    if (this.#over) return
    if (this.#opened) this.#settings.inbox.control(this, CANCEL_HEADERS, undefined)
    if (now) this.#items.length = this.#head = 0
    this.#finish(end, err)
  }

  #finish(end: RpcError | null, reason: RpcError | null = end): void {
    if (this.#over) return
    this.#over = true
    this.#end = end
    clearInterval(this.#timer)
    clearTimeout(this.#deadlineTimer)
    if (this.#onAbort !== undefined) this.signal!.removeEventListener('abort', this.#onAbort)
    this.#settings.inbox.remove(this)
    if (reason === null) this.#opening?.resolve()
    else this.#opening?.reject(reason)
    this.#span?.end(reason === null ? 'OK' : reason.code, reason?.message)
    this.#deliver()
  }

  /** Hands items, then the end, to the waiting `next()` calls. */
  #deliver(): void {
    while (this.#waiters.length > 0) {
      if (this.#head < this.#items.length) this.#waiters.shift()!.resolve({ value: this.#take(), done: false })
      else if (this.#end !== undefined) {
        const w = this.#waiters.shift()!
        this.#settle().then(w.resolve, w.reject)
      } else return
    }
  }

  #take(): unknown {
    const item = this.#items[this.#head]
    this.#items[this.#head++] = undefined
    if (this.#head === this.#items.length) this.#items.length = this.#head = 0
    else if (this.#head >= 1_024 && this.#head * 2 >= this.#items.length) {
      this.#items.splice(0, this.#head)
      this.#head = 0
    }
    this.#refill()
    return item
  }

  /** The end for a `next()` once the items are read: the error once, then done. */
  #settle(): Promise<IteratorResult<unknown, undefined>> {
    const end = this.#end
    if (end === null || end === undefined) return Promise.resolve({ value: undefined, done: true })
    this.#end = null
    return Promise.reject(end)
  }
}

/** A stream that fails on its first `next()`: a call refused before it could start (no such method, bad options). */
export function failedStream<T>(err: RpcError): RpcStream<T> {
  let end: RpcError | null = err
  const it: AsyncIterator<T, undefined, undefined> & RpcStream<T> = {
    [Symbol.asyncIterator]: () => it,
    next: () => {
      const e = end
      end = null
      return e === null ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(e)
    },
    return: () => {
      end = null
      return Promise.resolve({ value: undefined, done: true })
    },
    cancel: () => {
      end = null
    },
  }
  return it
}

/** The number of an error code: the system table, the method's declared codes, else the worker's header. */
function statusOf(spec: MethodSpec, code: string, h: Record<string, string>): number {
  if (isSystemCode(code)) return SystemCode[code]
  if (spec.errors !== undefined && Object.hasOwn(spec.errors, code)) return spec.errors[code]!.status
  const n = Number(h[Header.ServiceErrorCode])
  return Number.isInteger(n) && n > 0 ? n : 500
}
