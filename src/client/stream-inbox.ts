import { createInbox, InvalidArgumentError, PermissionViolationError, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/nats-core'
import { systemError, type RpcError } from '../rpc-error.ts'
import { PendingTable } from '../util/pending-table.ts'
import { inboxPrefixOf, transportUp } from '../wire/nats-internals.ts'
import { headersLength, publish } from '../wire/publisher.ts'

/** What the inbox routes to: one stream of this connection, under its token. */
export interface InboxStream {
  token: number
  /** The subject its open request went to; its control subject once open. */
  readonly subject: string
  readonly control: string | undefined
  /** A frame for it: the answer to its open request (`pull` undefined) or to one of its pulls. */
  frame(msg: Msg, pull: number | undefined): void
  /** It ends without a frame saying so (the connection went, permissions). */
  fail(err: RpcError): void
}

/**
 * The receiving end of a connection's streams (protocol §10): one subscription, `<inbox>.>`, made on the first stream
 * and kept apart from the Caller's reply subscription so that unary replies pay nothing for streams. Every frame
 * answers one message of the stream: its open request (reply `<inbox>.<token>`) or one of its pulls
 * (`<inbox>.<token>.<pull>`), tokens and pull ids in base 36.
 */
export class StreamInbox {
  readonly prefix: string
  readonly #streams = new PendingTable<InboxStream>()
  #sub: Subscription | undefined = undefined
  #watching = false
  #up = true
  /** Frames for streams or pulls this inbox does not know: late, duplicated or forged. */
  ignored = 0

  constructor(readonly nc: NatsConnection) {
    this.prefix = createInbox(inboxPrefixOf(nc))
  }

  /** Streams open now. */
  get size(): number {
    return this.#streams.size
  }

  /** Whether the connection is up (see Caller.connected). */
  get connected(): boolean {
    if (this.nc.isClosed()) return false
    return this.#watching ? this.#up : transportUp(this.nc)
  }

  /**
   * Adds `s` and publishes its open request; returns the error that keeps it from being sent instead (UNAVAILABLE,
   * RESOURCE_EXHAUSTED over max_payload, PERMISSION_DENIED for a refused inbox). Never throws.
   */
  open(s: InboxStream, headers: MsgHdrs, body: Uint8Array): RpcError | undefined {
    if (!this.connected) return systemError('UNAVAILABLE', `not connected to NATS: cannot open a stream of ${s.subject}`)
    const max = this.nc.info?.max_payload
    if (max !== undefined && body.length + headersLength(headers) > max) {
      return systemError('RESOURCE_EXHAUSTED', `request to ${s.subject} is ${body.length} bytes, over the server's max_payload of ${max} bytes`, {
        size: body.length,
        max,
      })
    }
    if (this.#sub === undefined) {
      try {
        this.#start()
      } catch (err) {
        return systemError('UNAVAILABLE', `cannot receive stream frames: ${(err as Error).message}`, undefined, err)
      }
    }
    const token = this.#streams.add(s)
    try {
      publish(this.nc, s.subject, `${this.prefix}.${token.toString(36)}`, headers, body)
    } catch (err) {
      this.#streams.take(token)
      if (err instanceof InvalidArgumentError) return systemError('RESOURCE_EXHAUSTED', `request to ${s.subject} is over the server's max_payload`)
      return systemError('UNAVAILABLE', `cannot publish to ${s.subject}: ${(err as Error).message}`, undefined, err)
    }
    return undefined
  }

  /** Publishes a pull (with its reply subject) or a cancel (`pull` undefined) of `s` to its control subject. */
  control(s: InboxStream, headers: MsgHdrs, pull: number | undefined): boolean {
    if (s.control === undefined) return false
    const reply = pull === undefined ? '' : `${this.prefix}.${s.token.toString(36)}.${pull.toString(36)}`
    try {
      publish(this.nc, s.control, reply, headers, EMPTY)
      return true
    } catch {
      return false
    }
  }

  /** Forgets `s`: frames for it are ignored from now on. */
  remove(s: InboxStream): void {
    this.#streams.take(s.token)
    this.#streams.compact()
  }

  #start(): void {
    const offset = this.prefix.length + 1
    this.#sub = this.nc.subscribe(`${this.prefix}.>`, {
      callback: (err, msg) => {
        if (err !== null) return this.#refused(err)
        const [t, p, more] = msg.subject.slice(offset).split('.')
        const token = tokenOf(t)
        const pull = p === undefined ? undefined : tokenOf(p)
        const s = more === undefined && !Number.isNaN(pull) ? this.#streams.get(token) : undefined
        if (s === undefined) {
          this.ignored++
          return
        }
        try {
          s.frame(msg, pull)
        } catch (e) {
          s.fail(systemError('INTERNAL', `stream frame from ${s.subject} failed: ${(e as Error).message}`, undefined, e))
        }
      },
    })
    if (!this.#watching) {
      this.#watching = true
      this.#up = transportUp(this.nc)
      void this.#watch()
    }
  }

  /** The server refused the inbox subscription: every stream fails, and the next one subscribes again. */
  #refused(err: Error): void {
    this.#sub = undefined
    const reason = `cannot receive stream frames on ${this.prefix}.>: ${err.message} (set the connection's inboxPrefix to an inbox this user may subscribe to)`
    for (const s of this.#streams.entries()) s.fail(systemError('PERMISSION_DENIED', reason, undefined, err))
  }

  async #watch(): Promise<void> {
    for await (const st of this.nc.status()) {
      if (st.type === 'disconnect') {
        this.#up = false
        this.#failAll('connection to NATS lost')
      } else if (st.type === 'reconnect') this.#up = true
      else if (st.type === 'error' && st.error instanceof PermissionViolationError && st.error.operation === 'publish') {
        const { subject } = st.error
        for (const s of this.#streams.entries()) {
          if (s.subject === subject || s.control === subject)
            s.fail(systemError('PERMISSION_DENIED', `not allowed to publish to ${subject}: ${st.error.message}`, undefined, st.error))
        }
      }
    }
    this.#failAll('connection to NATS closed')
  }

  #failAll(reason: string): void {
    for (const s of this.#streams.entries()) s.fail(systemError('UNAVAILABLE', reason))
  }
}

const EMPTY = new Uint8Array(0)

/** A base-36 token without a leading zero; NaN for anything else. */
function tokenOf(s: string | undefined): number {
  return s !== undefined && /^[1-9a-z][0-9a-z]{0,9}$/.test(s) ? parseInt(s, 36) : Number.NaN
}

const inboxes = new WeakMap<NatsConnection, StreamInbox>()

/** The one StreamInbox of a connection, shared by every client on it. */
export function streamInboxOf(nc: NatsConnection): StreamInbox {
  let i = inboxes.get(nc)
  if (i === undefined) inboxes.set(nc, (i = new StreamInbox(nc)))
  return i
}
