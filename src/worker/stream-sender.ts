import type { MsgHdrs, NatsConnection } from '@nats-io/nats-core'
import type { Logger } from '../logger.ts'
import { isRpcError, systemError, type RpcError } from '../rpc-error.ts'
import { issuesOf, type MethodValidators } from '../validator.ts'
import { encodeBody, encodeFailure, encodeOk, type Failure } from '../wire/codec.ts'
import { Header } from '../wire/headers.ts'
import { publish } from '../wire/publisher.ts'
import { FRAME_OVERHEAD, Frame, MISSED_BEATS, StreamHeader, frameHeaders, itemsBody } from '../wire/stream-frames.ts'
import type { CallContext } from './context.ts'
import { SystemCode } from '../codes.ts'

const EMPTY = new Uint8Array(0)
/** msgpack nil: how an `undefined` item travels (an empty element would break the frame's array). */
const NIL = Uint8Array.of(0xc0)
const SERVICE_ERROR_MAX = 256

/** One message of the caller waiting for its answer: where it goes, and how many items it may carry. */
interface Pull {
  readonly reply: string
  readonly credit: number
}

/** What a sender needs of its worker. */
export interface SenderDeps {
  readonly nc: NatsConnection
  readonly logger: Logger
  readonly service: string
  readonly method: string
  readonly validators: MethodValidators
  readonly validateOutput: boolean
  /** Called once, when the stream is over for the worker: its end went out, or the caller is gone. */
  readonly closed: (s: StreamSender) => void
}

/** Where a sender's stream is: named by the worker, answered on the caller's open request. */
export interface SenderInit {
  readonly id: string
  /** The control subject the open frame names. */
  readonly control: string
  /** The reply subject of the open request, answered by the open frame (or the end, if the stream never opened). */
  readonly reply: string
  readonly heartbeat: number
}

/**
 * The worker side of one open stream (protocol §10): takes items from the handler's iterable only while the caller
 * has granted room for them, batches them into frames, answers each of the caller's pulls with one frame, beats
 * while it has nothing to send, and sends the end. Everything that stops a stream early aborts the call's signal
 * (the caller's cancel, the deadline, the worker's stop, a silent caller), so the handler sees it and the iterable
 * is asked for no further item.
 */
export class StreamSender {
  readonly #pulls: Pull[] = []
  /** Items the handler may still produce: the credit of the pulls waiting, less the items in the batch. */
  #credit = 0
  #batch: Uint8Array[] = []
  #bytes = 0
  #sent = 0
  #timer: ReturnType<typeof setInterval> | undefined = undefined
  #flushing = false
  #wake: (() => void) | undefined = undefined
  /** Why the stream takes no more items (an abort of the call's signal). */
  #reason: RpcError | undefined = undefined
  #cancelled = false
  /** The end to send: undefined while there is none, null for OK. */
  #end: Failure | null | undefined = undefined
  #closed = false
  #lastSent = performance.now()
  #lastHeard = performance.now()

  constructor(
    readonly deps: SenderDeps,
    readonly init: SenderInit,
    readonly ctx: CallContext<object>,
  ) {
    this.#pulls.push({ reply: init.reply, credit: 0 })
    const signal = ctx.signal
    if (signal.aborted) this.#stop(signal.reason)
    else signal.addEventListener('abort', () => this.#stop(signal.reason), { once: true })
  }

  /** Items sent so far. */
  get sent(): number {
    return this.#sent
  }

  /** Whether the stream is over for the worker. */
  get closed(): boolean {
    return this.#closed
  }

  /**
   * Opens the stream and sends the items of the handler's `source` (an async iterable or an iterable) as the caller
   * grants room for them. Resolves once the last item is taken, rejects with what the iterable threw or with why the
   * stream stopped early; the end frame itself goes out through `finish()`. The iterable is closed (`return()`) when
   * the stream stops before it is done.
   */
  async pump(source: unknown): Promise<void> {
    const it = iteratorOf(await source, `${this.deps.service}.${this.deps.method}`)
    this.#open()
    let finished = false
    try {
      for (;;) {
        if (this.#reason !== undefined) throw this.#reason
        if (this.#credit <= 0) {
          await new Promise<void>((resolve) => (this.#wake = resolve))
          this.#wake = undefined
          continue
        }
        let r: IteratorResult<unknown>
        try {
          r = await it.next()
        } catch (err) {
          finished = true
          throw err
        }
        if (r.done === true) {
          finished = true
          return
        }
        // an item made after the stream stopped is not sent
        if (this.#reason !== undefined) throw this.#reason
        this.#add(r.value)
      }
    } finally {
      if (!finished) await closeQuietly(it)
    }
  }

  /** The handler's part is over: sends the end (after the items still in the batch) unless one went already. */
  finish(failure: Failure | undefined): void {
    if (this.#end !== undefined || this.#closed) return
    this.#end = failure ?? null
    this.#deliver()
  }

  /** A pull of the caller: an answer to send to `reply`, with up to `credit` items. */
  pulled(reply: string, credit: number): void {
    this.#lastHeard = performance.now()
    if (this.#closed) return
    this.#pulls.push({ reply, credit })
    this.#credit += credit
    if (this.#end !== undefined) return this.#deliver()
    if (this.#batch.length > 0 && !this.#flushing) this.#flush()
    this.#wake?.()
  }

  /** The caller cancelled: the handler's signal fires and no end is sent. */
  cancelled(): void {
    this.#lastHeard = performance.now()
    if (this.#closed) return
    this.#cancelled = true
    this.ctx.abort(systemError('CANCELLED', `the caller cancelled the stream of ${this.deps.service}.${this.deps.method}`))
  }

  /** The worker stops: ends the stream with UNAVAILABLE now. */
  abort(): void {
    this.ctx.abort(systemError('UNAVAILABLE', `${this.deps.service} worker stopping`))
  }

  #open(): void {
    // stopped before the handler started: its end answers the open request instead
    if (this.#reason !== undefined) return
    const pull = this.#pulls.shift()!
    if (!this.#publish(pull.reply, frameHeaders(Frame.open, 0, { [StreamHeader.Control]: this.init.control }), EMPTY)) return
    this.#lastHeard = performance.now()
    this.#timer = setInterval(() => this.#tick(), this.init.heartbeat / 2)
  }

  /** Checks, encodes and batches one item; sends the batch when it is as large as its pull allows. */
  #add(item: unknown): void {
    const { validators, validateOutput, logger, service, method } = this.deps
    if (validateOutput && !validators.output.Check(item)) {
      logger.error(
        { service, method, id: this.ctx.id, item: this.#sent + this.#batch.length + 1, issues: issuesOf(validators.output, item) },
        'stream item does not match the contract',
      )
      throw systemError('INTERNAL', 'internal error: item does not match the contract')
    }
    const bytes = item === undefined ? NIL : encodeBody(item)
    const max = this.deps.nc.info?.max_payload ?? Number.POSITIVE_INFINITY
    if (bytes.length + FRAME_OVERHEAD > max) {
      const n = this.#sent + this.#batch.length + 1
      throw systemError(
        'RESOURCE_EXHAUSTED',
        `item ${n} of ${service}.${method} is ${bytes.length} bytes, over the server's max_payload of ${max} bytes (less ${FRAME_OVERHEAD} bytes of frame)`,
        { item: n, size: bytes.length, max },
      )
    }
    if (this.#batch.length > 0 && this.#bytes + bytes.length + FRAME_OVERHEAD > max) this.#flush()
    this.#batch.push(bytes)
    this.#bytes += bytes.length
    this.#credit--
    const target = this.#pulls.find((p) => p.credit > 0)
    if (target !== undefined && this.#batch.length >= target.credit) this.#flush()
    else if (!this.#flushing) {
      // more items may follow within this turn of the event loop: they join the frame
      this.#flushing = true
      setImmediate(() => {
        this.#flushing = false
        this.#flush()
      })
    }
  }

  /** Sends the batch to the oldest pull that takes items, if there is one. */
  #flush(): void {
    if (this.#batch.length === 0 || this.#closed) return
    const i = this.#pulls.findIndex((p) => p.credit > 0)
    if (i < 0) return
    const pull = this.#pulls.splice(i, 1)[0]!
    const k = Math.min(this.#batch.length, pull.credit)
    const items = this.#batch.slice(0, k)
    const bytes = items.reduce((n, b) => n + b.length, 0)
    this.#batch = this.#batch.slice(k)
    this.#bytes -= bytes
    this.#credit -= pull.credit - k
    if (this.#publish(pull.reply, frameHeaders(Frame.items, this.#sent), itemsBody(items, bytes))) this.#sent += k
  }

  /** Sends the end once the batch is out and a pull is there to carry it. */
  #deliver(): void {
    if (this.#closed || this.#end === undefined) return
    this.#flush()
    if (this.#batch.length > 0) return
    const pull = this.#pulls.shift()
    if (pull === undefined) return
    const f = this.#end
    if (f === null) this.#publish(pull.reply, frameHeaders(Frame.end, this.#sent), encodeOk(undefined))
    else {
      const headers = frameHeaders(Frame.end, this.#sent, {
        [Header.ServiceError]: f.message.replace(/[\r\n]+/g, ' ').slice(0, SERVICE_ERROR_MAX),
        [Header.ServiceErrorCode]: String(f.status),
      })
      if (!this.#publish(pull.reply, headers, failureBody(f), true)) this.#publish(pull.reply, headers, encodeFailure(f.code, f.message))
    }
    this.#close()
  }

  /** The call's signal aborted: no more items; the end goes out now, without the items not sent yet. */
  #stop(reason: unknown): void {
    if (this.#reason !== undefined) return
    const { service, method } = this.deps
    const code = isRpcError(reason) ? reason.code : 'UNAVAILABLE'
    const message =
      code === 'DEADLINE_EXCEEDED'
        ? `stream of ${service}.${method} passed its deadline after ${this.#sent} items`
        : code === 'UNAVAILABLE'
          ? `${service} worker stopped with the stream of ${method} open after ${this.#sent} items`
          : isRpcError(reason)
            ? reason.message
            : String(reason)
    this.#reason = isRpcError(reason) ? reason : systemError('UNAVAILABLE', message)
    this.#wake?.()
    if (this.#cancelled) return this.#close()
    this.#batch = []
    this.#bytes = 0
    const status = SystemCode[code as SystemCode] ?? 500
    this.#end = undefined
    this.finish({ code, status, message })
  }

  /** Every half heartbeat: a beat when nothing went out for a heartbeat; gives up on a caller silent for MISSED_BEATS. */
  #tick(): void {
    const now = performance.now()
    if (now - this.#lastHeard >= MISSED_BEATS * this.init.heartbeat) {
      const silent = Math.round(now - this.#lastHeard)
      this.ctx.abort(systemError('CANCELLED', `no pull from the caller of ${this.deps.service}.${this.deps.method} for ${silent} ms`))
      return this.#close()
    }
    if (now - this.#lastSent < this.init.heartbeat) return
    if (this.#end !== undefined) this.#deliver()
    else this.#flush()
    // an end still here waits for room for its last items: beats keep the caller from taking the worker for gone
    if (this.#closed || now - this.#lastSent < this.init.heartbeat) return
    const i = this.#pulls.findIndex((p) => p.credit === 0)
    const pull = this.#pulls.splice(Math.max(i, 0), 1)[0]
    if (pull === undefined) return
    this.#credit -= pull.credit
    this.#publish(pull.reply, frameHeaders(Frame.beat, this.#sent), EMPTY)
  }

  /** Publishes one frame; false when it could not (`quiet`: the caller tries another way). */
  #publish(subject: string, headers: MsgHdrs, body: Uint8Array, quiet = false): boolean {
    try {
      publish(this.deps.nc, subject, '', headers, body)
      this.#lastSent = performance.now()
      return true
    } catch (err) {
      if (quiet) return false
      if (!this.deps.nc.isClosed()) this.deps.logger.warn({ service: this.deps.service, method: this.deps.method, err }, 'cannot send a stream frame')
      this.#close()
      return false
    }
  }

  #close(): void {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#timer)
    this.#batch = []
    this.#reason ??= systemError('UNAVAILABLE', 'stream closed')
    this.#wake?.()
    this.deps.closed(this)
  }
}

function failureBody(f: Failure): Uint8Array {
  try {
    return encodeFailure(f.code, f.message, f.data)
  } catch {
    return encodeFailure(f.code, f.message)
  }
}

type AnyIterator = AsyncIterator<unknown> | Iterator<unknown>

/** The iterator of what a stream handler returned; a TypeError (INTERNAL to the caller) when it is not iterable. */
function iteratorOf(source: unknown, where: string): AnyIterator {
  const s = source as { [Symbol.asyncIterator]?: () => AnyIterator; [Symbol.iterator]?: () => AnyIterator } | null | undefined
  if (typeof s?.[Symbol.asyncIterator] === 'function') return s[Symbol.asyncIterator]!()
  if (typeof s?.[Symbol.iterator] === 'function' && typeof source !== 'string') return s[Symbol.iterator]!()
  throw new TypeError(`the handler of stream method ${where} must return an async iterable (an async generator), got ${typeof source}`)
}

/** Closes an iterator the stream stopped taking items from (runs a generator's `finally`); never throws. */
async function closeQuietly(it: AnyIterator): Promise<void> {
  try {
    await it.return?.()
  } catch {
    // the handler's cleanup failed: the stream is over either way
  }
}
