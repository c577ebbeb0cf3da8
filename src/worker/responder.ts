import type { Msg, MsgHdrs, NatsConnection } from '@nats-io/nats-core'
import type { Logger } from '../logger.ts'
import { encodeFailure, encodeOk, type Failure } from '../wire/codec.ts'
import { Header, wireHeaders, type HeaderRecord } from '../wire/headers.ts'
import { publish } from '../wire/publisher.ts'

const SERVICE_ERROR_MAX = 256

/**
 * Writes a worker's replies: the OK envelope, or an error envelope with the ADR-32 headers (`Nats-Service-Error`,
 * `Nats-Service-Error-Code`). While it advertises an instance id, replies to calls that came through the queue
 * group name it (`Rpc-Instance`), so clients can balance their calls by load (protocol §7).
 */
export class Responder {
  #advert: MsgHdrs | undefined = undefined
  #id = ''
  #direct: ReadonlySet<number> = new Set()

  constructor(
    readonly nc: NatsConnection,
    readonly logger: Logger,
    readonly service: string,
  ) {}

  /** Names instance `id` in replies to calls that did not come in on one of the `direct` subscriptions (by sid). */
  advertise(id: string, direct: ReadonlySet<number>): void {
    this.#id = id
    this.#direct = direct
    this.#advert = wireHeaders({ [Header.Instance]: id })
  }

  /** Names no instance from now on (the worker stops, or one of its direct subscriptions was lost). */
  withdraw(): void {
    this.#advert = undefined
  }

  /** Sends `result` in an OK envelope. Throws when it cannot be encoded (answer with the failure instead). */
  ok(msg: Msg, result: unknown): void {
    this.#send(msg, encodeOk(result), undefined)
  }

  /** Sends an error envelope, with `extra` headers when given. Never throws. */
  fail(msg: Msg, f: Failure, extra?: HeaderRecord): void {
    let body: Uint8Array
    try {
      body = encodeFailure(f.code, f.message, f.data)
    } catch {
      body = encodeFailure(f.code, f.message)
    }
    this.#send(msg, body, f, extra)
  }

  #send(msg: Msg, body: Uint8Array, f: Failure | undefined, extra?: HeaderRecord): void {
    if (msg.reply === undefined || msg.reply === '') return
    try {
      const advert = this.#advert !== undefined && !this.#direct.has(msg.sid) ? this.#advert : undefined
      const headers =
        f === undefined
          ? advert
          : wireHeaders({
              [Header.ServiceError]: headerSafe(f.message),
              [Header.ServiceErrorCode]: String(f.status),
              ...(advert && { [Header.Instance]: this.#id }),
              ...extra,
            })
      publish(this.nc, msg.reply, '', headers, body)
    } catch (err) {
      if (f?.code === 'RESOURCE_EXHAUSTED' || this.nc.isClosed()) return
      const message = `reply of ${body.length} bytes is over the server's max_payload`
      this.logger.warn({ service: this.service, subject: msg.subject, err }, message)
      this.#send(msg, encodeFailure('RESOURCE_EXHAUSTED', message), { code: 'RESOURCE_EXHAUSTED', status: 429, message })
    }
  }
}

function headerSafe(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').slice(0, SERVICE_ERROR_MAX)
}
