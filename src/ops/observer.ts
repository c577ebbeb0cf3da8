import type { Failure } from '../wire/codec.ts'
import type { Logger } from '../logger.ts'
import type { MethodMetrics } from './metrics.ts'
import type { CallSpan, Tracing } from './trace.ts'

/** True when `logger` writes `level` (loggers that cannot say are taken to write everything). */
export function levelOn(logger: Logger, level: string): boolean {
  return logger.isLevelEnabled?.(level) ?? true
}

/**
 * What a worker does around each call for logs, metrics and traces. Built once at start(); every switch is a
 * boolean or an `undefined` checked per call, so what is off costs nothing.
 */
export class CallObserver {
  readonly #debug: boolean
  readonly #warn: boolean
  readonly #error: boolean

  constructor(
    readonly service: string,
    readonly logger: Logger,
    readonly tracing: Tracing | undefined,
    readonly metrics: ReadonlyMap<string, MethodMetrics> | undefined,
  ) {
    this.#debug = levelOn(logger, 'debug')
    this.#warn = levelOn(logger, 'warn')
    this.#error = levelOn(logger, 'error')
  }

  /** Whether anything is done for a successful call. */
  get active(): boolean {
    return this.#debug || this.tracing !== undefined || this.metrics !== undefined
  }

  /** Counts, logs and ends the span of one answered call. */
  end(method: string, id: string | undefined, ms: number, failure: Failure | undefined, span: CallSpan | undefined): void {
    const code = failure === undefined ? 'OK' : failure.code
    this.metrics?.get(method)?.record(code, ms)
    span?.end(code, failure?.message)
    if (failure === undefined) {
      if (this.#debug) this.logger.debug(this.#line(method, id, code, ms, span), 'call')
    } else if (failure.status >= 500) {
      if (this.#error) this.logger.error({ ...this.#line(method, id, code, ms, span), message: failure.message }, 'call failed')
    } else if (this.#warn) {
      this.logger.warn({ ...this.#line(method, id, code, ms, span), message: failure.message }, 'call refused')
    }
  }

  #line(method: string, id: string | undefined, status: string, ms: number, span: CallSpan | undefined): Record<string, unknown> {
    const line: Record<string, unknown> = { service: this.service, method, request_id: id, status, duration_ms: Math.round(ms * 1000) / 1000 }
    if (span !== undefined) {
      line.trace_id = span.traceId
      line.span_id = span.spanId
      if (span.parentSpanId !== undefined) line.parent_span_id = span.parentSpanId
    }
    return line
  }
}
