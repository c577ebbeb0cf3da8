import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { EdgeLimit } from './edge-limits.ts'

/** Buckets of the call duration histogram, in seconds: 0.5 ms to 10 s. */
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/**
 * The gateway's Prometheus metrics, in a registry of its own (served at `/metrics` of its ops listener): the client
 * calls it answered (by call, errors by code, durations), what the edge limits turned away (by limit), and the sockets
 * open. Call labels are the gateway's own call names (unknown names count as `other`), so clients cannot grow them.
 */
export class GatewayMetrics {
  readonly registry = new Registry()
  readonly #refusals: Counter<'limit'>
  readonly #calls: Counter<'call'>
  readonly #errors: Counter<'call' | 'code'>
  readonly #duration: Histogram<'call'>
  /** The labelled children of each call name, bound once. */
  readonly #bound = new Map<string, { calls: Counter.Internal; duration: Histogram.Internal<'call'> }>()

  constructor(sessions: () => number) {
    this.#refusals = new Counter({
      name: 'switchboard_gateway_refusals_total',
      help: 'Connections and frames the gateway turned away at its edge, by limit',
      labelNames: ['limit'],
      registers: [this.registry],
    })
    for (const limit of Object.values(EdgeLimit)) this.#refusals.inc({ limit }, 0)
    const registers = [this.registry]
    this.#calls = new Counter({ name: 'switchboard_gateway_calls_total', help: 'Client call frames the gateway answered', labelNames: ['call'], registers })
    this.#errors = new Counter({
      name: 'switchboard_gateway_call_errors_total',
      help: 'Client call frames answered with an error, by code',
      labelNames: ['call', 'code'],
      registers,
    })
    this.#duration = new Histogram({
      name: 'switchboard_gateway_call_duration_seconds',
      help: 'Time from a call frame to its reply',
      labelNames: ['call'],
      buckets: DURATION_BUCKETS,
      registers,
    })
    new Gauge({
      name: 'switchboard_gateway_sessions',
      help: 'WebSocket sessions open on this gateway',
      registers: [this.registry],
      collect() {
        this.set(sessions())
      },
    })
  }

  /** Counts one answered call frame: `ms` from frame to reply, `error` its code when it failed. */
  call(call: string, ms: number, error?: string): void {
    let bound = this.#bound.get(call)
    if (bound === undefined) this.#bound.set(call, (bound = { calls: this.#calls.labels(call), duration: this.#duration.labels(call) }))
    bound.calls.inc()
    bound.duration.observe(ms / 1000)
    if (error !== undefined) this.#errors.inc({ call, code: error })
  }

  /** Counts one refusal by `limit`. */
  refused(limit: EdgeLimit): void {
    this.#refusals.inc({ limit })
  }
}
