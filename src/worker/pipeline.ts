import { nuid, type Msg } from '@nats-io/nats-core'
import type { Logger } from '../logger.ts'
import type { CallObserver } from '../ops/observer.ts'
import { runInSpan, type CallSpan } from '../ops/trace.ts'
import { systemError } from '../rpc-error.ts'
import { describeIssues, issuesOf } from '../validator.ts'
import { decodeBody, type Failure } from '../wire/codec.ts'
import { Header, readHeaders } from '../wire/headers.ts'
import { CallContext, type ContextHost } from './context.ts'
import type { Endpoint } from './endpoint.ts'
import { toFailure } from './failure.ts'
import type { Responder } from './responder.ts'
import type { StreamTable } from './stream-table.ts'

/** What the pipeline needs of its worker. */
export interface PipelineDeps {
  readonly service: string
  readonly host: ContextHost
  readonly responder: Responder
  readonly observer: CallObserver | undefined
  readonly logger: Logger
  readonly validateOutput: boolean
  /** Called once per call run, when it is answered: frees its slot. */
  readonly release: () => void
  /** The worker's open streams; undefined when its contract has no stream method. */
  readonly streams?: StreamTable | undefined
}

/** One call on its way through the pipeline, from arrival to answer. */
interface Run {
  readonly msg: Msg
  readonly endpoint: Endpoint
  /** performance.now() when the call arrived (its processing time includes any wait in the backlog). */
  readonly t0: number
  readonly span: CallSpan | undefined
  readonly ctx: CallContext<object> | undefined
  readonly id: string | undefined
}

/**
 * The call path inside a worker: headers → deadline → decode → validate → context → middleware and handler →
 * result check → reply, then counters, logs, metrics and the span. Every failure on the way becomes an error
 * envelope; a call is answered once. A stream method takes the same path up to its handler, whose items then go
 * out through the worker's StreamTable, and its end where a unary call's reply would.
 */
export class CallPipeline {
  constructor(readonly deps: PipelineDeps) {}

  /**
   * Runs one call that holds a slot; answers synchronously when the handler and middleware are, else when the
   * promise settles. Calls that waited in the backlog bring their arrival time and the headers read then.
   */
  run(msg: Msg, e: Endpoint, t0 = performance.now(), read?: Record<string, string>): void {
    const { observer, host } = this.deps
    let headers: Record<string, string> | undefined
    let span: CallSpan | undefined
    let ctx: CallContext<object>
    try {
      headers = read ?? readHeaders(msg)
      const tracing = observer?.tracing
      if (tracing !== undefined) span = tracing.start('server', this.deps.service, e.name, headers[Header.TraceParent], { subject: e.subject })
      const deadline = parseDeadline(headers[Header.Deadline])
      if (deadline <= Date.now()) throw systemError('DEADLINE_EXCEEDED', `deadline passed before ${e.subject} ran`)
      let input: unknown
      try {
        input = decodeBody(msg.data)
      } catch (err) {
        throw systemError('INVALID_ARGUMENT', `body is not valid msgpack: ${(err as Error).message}`)
      }
      if (!e.validators.input.Check(input)) {
        const issues = issuesOf(e.validators.input, input)
        throw systemError('INVALID_ARGUMENT', `invalid input for ${this.deps.service}.${e.name}: ${describeIssues(issues)}`, { issues })
      }
      const id = headers[Header.Id] ?? nuid.next()
      ctx = new CallContext(host, { service: this.deps.service, method: e.name, subject: e.subject, id, deadline, headers, input })
      // a stream method: its frames answer the call from here on (protocol §10)
      if (e.streamed) this.deps.streams!.open(ctx, msg, e)
    } catch (err) {
      this.#finish({ msg, endpoint: e, t0, span, ctx: undefined, id: headers?.[Header.Id] }, undefined, err)
      return
    }
    const run: Run = { msg, endpoint: e, t0, span, ctx, id: ctx.id }
    let out: unknown
    try {
      if (span === undefined) out = e.run(ctx)
      else {
        ctx.span = span
        out = span.otelContext === undefined ? e.run(ctx) : runInSpan(span, () => e.run(ctx))
      }
    } catch (err) {
      this.#finish(run, undefined, err)
      return
    }
    if (isThenable(out)) {
      Promise.resolve(out).then(
        (v) => this.#finish(run, v, NO_ERROR),
        (err: unknown) => this.#finish(run, undefined, err),
      )
    } else this.#finish(run, out, NO_ERROR)
  }

  /** Answers a call that will not run (never started) and counts it; it holds no slot. */
  refuse(msg: Msg, e: Endpoint, failure: Failure): void {
    this.deps.responder.fail(msg, failure)
    e.record(0, `${failure.status}:${failure.message}`)
    this.deps.observer?.end(e.name, readHeaders(msg)[Header.Id], 0, failure, undefined)
  }

  /**
   * Answers a call to a method this worker does not have (`method`), saying so in `Rpc-Unknown-Method`: the call did
   * not run, so a client may send it to another instance.
   */
  unimplemented(msg: Msg, version: string, method: string): void {
    const failure = { code: 'UNIMPLEMENTED', status: 501, message: `${this.deps.service} ${version} has no method '${method}'` }
    this.deps.responder.fail(msg, failure, { [Header.UnknownMethod]: method })
  }

  /** Answers a call (its result, or `err` as an error envelope), then counts and observes it. Never throws. */
  #finish(run: Run, out: unknown, err: unknown): void {
    const { msg, endpoint: e, ctx, id } = run
    let failure: Failure | undefined
    try {
      if (e.streamed && ctx !== undefined) {
        // each item was checked as it went; the end goes out after the last one
        if (err !== NO_ERROR) failure = toFailure(err, e.spec, this.deps.logger, { service: this.deps.service, method: e.name, id })
        this.deps.streams!.finish(ctx, failure)
        return
      }
      if (err === NO_ERROR && ctx !== undefined) err = this.#checkResult(e, ctx, out)
      if (err === NO_ERROR) {
        try {
          this.deps.responder.ok(msg, out)
        } catch (encodeErr) {
          err = encodeErr
        }
      }
      if (err !== NO_ERROR) {
        failure = toFailure(err, e.spec, this.deps.logger, { service: this.deps.service, method: e.name, id })
        this.deps.responder.fail(msg, failure)
      }
    } finally {
      ctx?.dispose()
      const ms = performance.now() - run.t0
      e.record(ms, failure && `${failure.status}:${failure.message}`)
      try {
        this.deps.observer?.end(e.name, id, ms, failure, run.span)
      } finally {
        this.deps.release()
      }
    }
  }

  /** NO_ERROR for a result that may go out; otherwise the error to send instead. */
  #checkResult(e: Endpoint, ctx: CallContext<object>, out: unknown): unknown {
    if (ctx.expired) return systemError('DEADLINE_EXCEEDED', `${e.subject} finished after its deadline`)
    if (this.deps.validateOutput && !e.validators.output.Check(out)) {
      this.deps.logger.error(
        { service: this.deps.service, method: e.name, id: ctx.id, issues: issuesOf(e.validators.output, out) },
        'handler output does not match the contract',
      )
      return systemError('INTERNAL', 'internal error: result does not match the contract')
    }
    return NO_ERROR
  }
}

/** Marks a call that ended without an error (a handler may throw `undefined`). */
const NO_ERROR: unique symbol = Symbol('no error')

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof (v as PromiseLike<unknown> | null)?.then === 'function'
}

/** A positive decimal integer, as `Rpc-Deadline` must be (docs/protocol.md §2): no sign, exponent, fraction or hex. */
const DECIMAL = /^[1-9][0-9]*$/

/** The `Rpc-Deadline` header as epoch ms; Infinity when absent. INVALID_ARGUMENT when it is not a positive integer. */
export function parseDeadline(raw: string | undefined): number {
  if (raw === undefined) return Infinity
  const n = DECIMAL.test(raw) ? Number(raw) : Number.NaN
  if (!Number.isSafeInteger(n)) throw systemError('INVALID_ARGUMENT', `bad ${Header.Deadline} header: '${raw.slice(0, 32)}'`)
  return n
}
