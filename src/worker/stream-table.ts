import { nuid, type Msg, type NatsConnection, type Subscription } from '@nats-io/nats-core'
import type { Logger } from '../logger.ts'
import { systemError } from '../rpc-error.ts'
import type { Failure } from '../wire/codec.ts'
import { readHeaders } from '../wire/headers.ts'
import {
  Control,
  DEFAULT_HEARTBEAT_MS,
  MAX_HEARTBEAT_MS,
  MIN_HEARTBEAT_MS,
  STREAM_VERSION,
  StreamHeader,
  controlBase,
  decimalOf,
} from '../wire/stream-frames.ts'
import type { CallContext } from './context.ts'
import type { Endpoint } from './endpoint.ts'
import { StreamSender } from './stream-sender.ts'

/** What the table needs of its worker. */
export interface StreamTableDeps {
  readonly nc: NatsConnection
  readonly logger: Logger
  readonly service: string
  readonly validateOutput: boolean
  /** Names this worker in its control subjects: `<prefix>.<service>.$stream.<worker>.<streamId>`. */
  readonly prefix: string
  readonly worker: string
}

/**
 * The open streams of one worker (protocol §10): opens a sender per stream call, routes the callers' pulls and
 * cancels from the worker's one control subscription (`<prefix>.<service>.$stream.<worker>.*`) to them, and ends
 * them all when the worker stops. Made by a worker whose contract has stream methods; subscribes in `start()`.
 */
export class StreamTable {
  readonly base: string
  readonly #byId = new Map<string, StreamSender>()
  readonly #byCtx = new WeakMap<CallContext<object>, StreamSender>()
  #sub: Subscription | undefined = undefined
  #closing = false
  #emptied: (() => void) | undefined = undefined
  /** Control messages ignored: malformed, or for a stream this worker does not have. */
  ignored = 0

  constructor(readonly deps: StreamTableDeps) {
    this.base = controlBase(deps.prefix, deps.service, deps.worker)
  }

  /** Streams open now. */
  get size(): number {
    return this.#byId.size
  }

  /** Subscribes the control subject; the worker checks, with its other subscriptions, that the server took it. */
  start(): Subscription {
    const offset = this.base.length + 1
    this.#sub = this.deps.nc.subscribe(`${this.base}.*`, {
      callback: (err, msg) => {
        if (err !== null) return
        try {
          this.#control(msg, msg.subject.slice(offset))
        } catch (e) {
          this.ignored++
          this.deps.logger.error({ service: this.deps.service, subject: msg.subject, err: e }, 'stream control message failed')
        }
      },
    })
    return this.#sub
  }

  /**
   * Opens the stream of a call that is about to run (the pipeline has decoded and checked it). Throws the error
   * to answer instead: INVALID_ARGUMENT without `Rpc-Stream: 1` or with a bad `Rpc-Heartbeat`, UNAVAILABLE when the
   * worker is stopping.
   */
  open(ctx: CallContext<object>, msg: Msg, e: Endpoint): void {
    const h = ctx.headers
    const where = `${this.deps.service}.${e.name}`
    const version = h[StreamHeader.Stream]
    if (version === undefined)
      throw systemError('INVALID_ARGUMENT', `${where} is a stream method: open it with ${StreamHeader.Stream}: ${STREAM_VERSION} (protocol §10)`)
    if (version !== STREAM_VERSION)
      throw systemError('INVALID_ARGUMENT', `${where}: unsupported ${StreamHeader.Stream} '${version.slice(0, 16)}' (this worker speaks ${STREAM_VERSION})`)
    const raw = h[StreamHeader.Heartbeat]
    const asked = raw === undefined ? DEFAULT_HEARTBEAT_MS : decimalOf(raw)
    if (asked === undefined) throw systemError('INVALID_ARGUMENT', `bad ${StreamHeader.Heartbeat} header: '${raw!.slice(0, 32)}'`)
    if (msg.reply === undefined || msg.reply === '') throw systemError('INVALID_ARGUMENT', `${where}: a stream open needs a reply subject`)
    if (this.#closing) throw systemError('UNAVAILABLE', `${this.deps.service} worker is stopping: it opens no more streams`)
    const id = nuid.next()
    const heartbeat = Math.min(MAX_HEARTBEAT_MS, Math.max(MIN_HEARTBEAT_MS, asked))
    const { nc, logger, service, validateOutput } = this.deps
    const deps = { nc, logger, service, method: e.name, validators: e.validators, validateOutput, closed: (s: StreamSender) => this.#closed(s) }
    const sender = new StreamSender(deps, { id, control: `${this.base}.${id}`, reply: msg.reply, heartbeat }, ctx)
    if (sender.closed) return
    this.#byId.set(id, sender)
    this.#byCtx.set(ctx, sender)
  }

  /** The sender of a stream call (what the endpoint's handler feeds). */
  senderOf(ctx: CallContext<object>): StreamSender {
    const s = this.#byCtx.get(ctx)
    if (s === undefined) throw systemError('UNAVAILABLE', 'the stream is closed')
    return s
  }

  /** The call's handler and middleware are done: its stream ends with `failure`, or OK. */
  finish(ctx: CallContext<object>, failure: Failure | undefined): void {
    this.#byCtx.get(ctx)?.finish(failure)
  }

  /**
   * Opens no more streams, ends every open one with UNAVAILABLE (each sends its end on the caller's next pull),
   * and resolves once all are closed or after `ms`, then drops the control subscription. A caller that gets no end
   * sees its next pull go unanswered (no responders) or its stream fall silent: UNAVAILABLE either way.
   */
  async close(ms: number): Promise<void> {
    this.#closing = true
    for (const s of this.#byId.values()) s.abort()
    if (this.#byId.size > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined
      await Promise.race([new Promise<void>((r) => (this.#emptied = r)), new Promise<void>((r) => (timer = setTimeout(r, ms)))])
      clearTimeout(timer)
    }
    await this.#sub?.drain().catch(() => undefined)
  }

  #control(msg: Msg, id: string): void {
    const s = this.#byId.get(id)
    if (s === undefined) {
      this.ignored++
      return
    }
    const h = readHeaders(msg)
    const kind = h[StreamHeader.Frame]
    if (kind === Control.pull) {
      const credit = decimalOf(h[StreamHeader.Credit])
      if (credit === undefined || msg.reply === undefined || msg.reply === '') {
        this.ignored++
        return
      }
      s.pulled(msg.reply, credit)
    } else if (kind === Control.cancel) s.cancelled()
    else this.ignored++
  }

  #closed(s: StreamSender): void {
    this.#byId.delete(s.init.id)
    if (this.#byId.size === 0) this.#emptied?.()
  }
}
