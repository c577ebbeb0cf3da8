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

/** The counters of one endpoint: calls, errors, the last error and processing times. */
export class CallStats {
  requests = 0
  errors = 0
  lastError = ''
  processingNs = 0
  lastNs = 0

  /** Counts one answered call that took `ms`; `error` describes it when it failed. */
  record(ms: number, error: string | undefined): void {
    this.requests++
    this.lastNs = Math.round(ms * 1e6)
    this.processingNs += this.lastNs
    if (error !== undefined) {
      this.errors++
      this.lastError = error
    }
  }

  /** The counters in the NATS micro STATS shape of an endpoint. */
  report(name: string, subject: string, queue: string): EndpointStats {
    return {
      name,
      subject,
      queue_group: queue,
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
