import type { MethodSpec } from './contract.ts'
import type { MethodValidators } from './validator.ts'
import type { CallContext } from './context.ts'

/** Per-method numbers, as NATS micro STATS reports them (times in nanoseconds). */
export interface EndpointStats {
  readonly name: string
  readonly subject: string
  readonly queue_group: string
  readonly num_requests: number
  readonly num_errors: number
  readonly last_error: string
  readonly processing_time: number
  readonly average_processing_time: number
  /** Extra numbers (NATS micro `data`): the last call's processing time, in ns. */
  readonly data: { readonly last_processing_time: number }
}

/** One method as a worker serves it: its spec, validators, the composed chain and its counters. */
export class Endpoint {
  requests = 0
  errors = 0
  lastError = ''
  processingNs = 0
  lastNs = 0

  constructor(
    readonly name: string,
    readonly subject: string,
    readonly queue: string,
    readonly spec: MethodSpec,
    readonly validators: MethodValidators,
    /** Middleware and handler: the result, or a promise of it when anything on the way is async. */
    readonly run: (ctx: CallContext<object>) => unknown,
  ) {}

  /** Counts one answered call. */
  record(ms: number, error: string | undefined): void {
    this.requests++
    this.lastNs = Math.round(ms * 1e6)
    this.processingNs += this.lastNs
    if (error !== undefined) {
      this.errors++
      this.lastError = error
    }
  }

  stats(): EndpointStats {
    return {
      name: this.name,
      subject: this.subject,
      queue_group: this.queue,
      num_requests: this.requests,
      num_errors: this.errors,
      last_error: this.lastError,
      processing_time: this.processingNs,
      average_processing_time: this.requests === 0 ? 0 : Math.round(this.processingNs / this.requests),
      data: { last_processing_time: this.lastNs },
    }
  }

  reset(): void {
    this.requests = this.errors = this.processingNs = this.lastNs = 0
    this.lastError = ''
  }
}
