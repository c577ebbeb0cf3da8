import { Counter, Gauge, Registry } from 'prom-client'
import { EdgeLimit } from './edge-limits.ts'

/**
 * The gateway's Prometheus metrics, in a registry of its own (served at `/metrics` of its ops listener): what the
 * edge limits turned away, by limit, and the sockets open.
 */
export class GatewayMetrics {
  readonly registry = new Registry()
  readonly #refusals: Counter<'limit'>

  constructor(sessions: () => number) {
    this.#refusals = new Counter({
      name: 'switchboard_gateway_refusals_total',
      help: 'Connections and frames the gateway turned away at its edge, by limit',
      labelNames: ['limit'],
      registers: [this.registry],
    })
    for (const limit of Object.values(EdgeLimit)) this.#refusals.inc({ limit }, 0)
    new Gauge({
      name: 'switchboard_gateway_sessions',
      help: 'WebSocket sessions open on this gateway',
      registers: [this.registry],
      collect() {
        this.set(sessions())
      },
    })
  }

  /** Counts one refusal by `limit`. */
  refused(limit: EdgeLimit): void {
    this.#refusals.inc({ limit })
  }
}
