import type { Msg, MsgHdrs } from '@nats-io/nats-core'
import type { Balancer, Instance } from './balancer.ts'
import { cancelled, type Caller, type Fate, type ReplySink } from './caller.ts'
import { decodeEnvelope, decodeOkResult, encodeBody, NOT_OK } from '../wire/codec.ts'
import { OK, RETRYABLE_CODES, SystemCode, isSystemCode } from '../codes.ts'
import type { MethodSpec } from '../contract.ts'
import { Header, readHeaders, wireHeaders } from '../wire/headers.ts'
import { attemptTimeout, backoff, sleep, type RetryOptions } from './retry.ts'
import { RpcError, systemError } from '../rpc-error.ts'
import { describeIssues, issuesOf, validatorsOf } from '../validator.ts'

/**
 * How many times one attempt is sent on after workers answered its method as unknown (older workers in a rollout).
 * Each such answer means the call did not run; with balancing on, the instance is then skipped for the method.
 */
export const MAX_UNSERVED_RESENDS = 16

/** What client middleware sees of a call. Middleware may change `input` and `headers` before `next()`. */
export interface ClientContext {
  readonly service: string
  readonly method: string
  readonly subject: string
  input: unknown
  readonly headers: Record<string, string>
  /** Absolute deadline, epoch ms. */
  readonly deadline: number
  readonly signal: AbortSignal | undefined
}

/** One call as the client made it: what middleware sees, and the method's spec. */
export interface CallInit {
  readonly service: string
  readonly method: string
  readonly subject: string
  readonly input: unknown
  readonly headers: Record<string, string>
  /** Absolute deadline, epoch ms. */
  readonly deadline: number
  readonly signal: AbortSignal | undefined
  readonly spec: MethodSpec
}

/** What a call needs of its client. */
export interface CallSettings {
  readonly caller: Caller
  readonly retry: RetryOptions
  readonly validateInput: boolean
  /** Spreads the calls over the service's instances; undefined: every call goes through the queue group. */
  readonly balancer: Balancer | undefined
}

/**
 * One outgoing call: the context client middleware sees, and the attempts that carry it. One promise per call,
 * settled by the reply sink across every attempt (no promise, closure or timer per attempt on the way).
 */
export class Call implements ClientContext {
  static readonly #sink: ReplySink<Call> = {
    reply: (call, msg) => call.#onReply(msg),
    fail: (call, err, fate) => call.#onFail(err, fate),
  }

  readonly service: string
  readonly method: string
  readonly subject: string
  input: unknown
  readonly headers: Record<string, string>
  readonly deadline: number
  readonly signal: AbortSignal | undefined

  readonly #spec: MethodSpec
  readonly #settings: CallSettings
  #body: Uint8Array | undefined = undefined
  #attempts = 1
  #attempt = 0
  #unserved = 0
  #headers: MsgHdrs | undefined = undefined
  /** Epoch ms at which the current attempt times out (its Rpc-Deadline). */
  #attemptDeadline = 0
  /** The instance the current attempt went to; undefined when it went through the queue group. */
  #instance: Instance | undefined = undefined
  #resolve: (value: unknown) => void = noop
  #reject: (err: unknown) => void = noop

  constructor(init: CallInit, settings: CallSettings) {
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

  /**
   * The end of the client's middleware chain: checks and encodes `input`, then sends it. An idempotent method is
   * retried on UNAVAILABLE and DEADLINE_EXCEEDED within the deadline, with the same `Rpc-Id`.
   */
  send(): Promise<unknown> {
    if (this.#settings.validateInput) {
      const v = validatorsOf(this.#spec).input
      if (!v.Check(this.input)) {
        const issues = issuesOf(v, this.input)
        return Promise.reject(systemError('INVALID_ARGUMENT', `invalid input for ${this.service}.${this.method}: ${describeIssues(issues)}`, { issues }))
      }
    }
    try {
      this.#body = encodeBody(this.input)
    } catch (err) {
      return Promise.reject(
        systemError('INVALID_ARGUMENT', `input for ${this.service}.${this.method} cannot be encoded: ${(err as Error).message}`, undefined, err),
      )
    }
    if (this.#spec.idempotent === true) this.#attempts = this.#settings.retry.attempts
    return new Promise((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
      this.#sendAttempt()
    })
  }

  /** Sends the next attempt with its share of what is left of the deadline. */
  #sendAttempt(): void {
    this.#attempt++
    const now = Date.now()
    const remaining = this.deadline - now
    if (remaining <= 0) return this.#reject(systemError('DEADLINE_EXCEEDED', `deadline of ${this.service}.${this.method} passed before it was sent`))
    const timeout = attemptTimeout(remaining, this.#attempts - this.#attempt + 1)
    try {
      this.#headers = wireHeaders(this.headers, Header.Deadline, String(now + timeout))
    } catch (err) {
      return this.#reject(err)
    }
    this.#attemptDeadline = now + timeout
    this.#dispatch(timeout)
  }

  /** Sends the current attempt to the instance the balancer picks, or through the queue group. */
  #dispatch(timeout: number): void {
    const instance = this.#settings.balancer?.pick(this.method)
    this.#instance = instance
    const subject = instance === undefined ? this.subject : instance.subjectOf(this.subject)
    this.#settings.caller.send(subject, this.#body!, this.#headers, timeout, this.signal, Call.#sink, this)
  }

  #onReply(msg: Msg): void {
    const instance = this.#instance
    this.#instance = undefined
    const balancer = this.#settings.balancer
    const bytes = msg.data
    const result = decodeOkResult(bytes)
    if (result !== NOT_OK) {
      if (instance !== undefined) balancer!.answered(instance, OK)
      else if (balancer?.hears(OK)) this.#heard(balancer, msg)
      return this.#resolve(result)
    }
    const env = decodeEnvelope(bytes)
    if (env === undefined) {
      if (instance !== undefined) balancer!.done(instance)
      return this.#onFail(systemError('INTERNAL', `malformed reply from ${this.subject}`), undefined)
    }
    const code = env.status
    if (instance !== undefined) balancer!.answered(instance, code)
    else if (balancer?.hears(code)) this.#heard(balancer, msg)
    if (code === OK) return this.#resolve((env as { result: unknown }).result)
    if (code === 'UNIMPLEMENTED' && this.#sendOnUnserved(instance, msg)) return
    const { message, data } = env as { status: string; message: string; data?: unknown }
    this.#onFail(new RpcError(code, message, { status: statusOf(this.#spec, code, msg), data }), undefined)
  }

  /** A reply that came through the queue group names its instance. */
  #heard(balancer: Balancer, msg: Msg): void {
    const id = readHeaders(msg)[Header.Instance]
    if (id !== undefined) balancer.heard(id)
  }

  /**
   * A worker answered this method as unknown (`Rpc-Unknown-Method`: an older contract, the call did not run): the
   * balancer learns that its instance lacks the method, and the attempt goes on to another instance (one not known
   * to lack it, else the queue group), up to MAX_UNSERVED_RESENDS times and while time is left of it.
   */
  #sendOnUnserved(instance: Instance | undefined, msg: Msg): boolean {
    const h = readHeaders(msg)
    if (h[Header.UnknownMethod] !== this.method) return false
    const balancer = this.#settings.balancer
    const id = instance?.id ?? h[Header.Instance]
    if (balancer !== undefined && id !== undefined) balancer.lacking(id, this.method)
    const timeout = this.#attemptDeadline - Date.now()
    if (++this.#unserved > MAX_UNSERVED_RESENDS || timeout <= 0) return false
    this.#dispatch(timeout)
    return true
  }

  /** Sends the current attempt again through the queue group, when time is left of it. */
  #resend(): boolean {
    const timeout = this.#attemptDeadline - Date.now()
    if (timeout <= 0) return false
    this.#settings.caller.send(this.subject, this.#body!, this.#headers, timeout, this.signal, Call.#sink, this)
    return true
  }

  /** Retries a retryable failure after a backoff while attempts and time are left; otherwise fails the call. */
  #onFail(err: RpcError, fate: Fate | undefined): void {
    const instance = this.#instance
    if (instance !== undefined) {
      this.#instance = undefined
      if (this.#settings.balancer!.failed(instance, fate) && this.#resend()) return
    }
    const left = this.deadline - Date.now() - 1
    if (this.#attempt >= this.#attempts || left <= 0 || !RETRYABLE_CODES.has(err.code)) return this.#reject(err)
    sleep(Math.min(backoff(this.#settings.retry, this.#attempt + 1), left), this.signal).then(
      () => {
        try {
          this.#sendAttempt()
        } catch (err) {
          this.#reject(err)
        }
      },
      (reason: unknown) => this.#reject(cancelled(this.subject, reason)),
    )
  }
}

function noop(): void {}

/** The number of an error code: the system table, the method's declared codes, else the worker's header. */
function statusOf(spec: MethodSpec, code: string, msg: Msg): number {
  if (isSystemCode(code)) return SystemCode[code]
  if (spec.errors !== undefined && Object.hasOwn(spec.errors, code)) return spec.errors[code]!.status
  const n = Number(readHeaders(msg)[Header.ServiceErrorCode])
  return Number.isInteger(n) && n > 0 ? n : 500
}
