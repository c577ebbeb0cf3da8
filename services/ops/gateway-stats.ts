import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { EndpointStats, MicroStats } from '../../src/index.ts'

/** The name the gateway goes by in the operations dashboard. */
export const GATEWAY_SERVICE = 'gateway'

interface Counter {
  requests: number
  errors: number
  lastError: string
  ns: number
  lastNs: number
}

/** Per-call counters of one gateway, reported in the NATS micro STATS shape (times in ns), like a worker's. */
export class GatewayStats {
  readonly id = randomBytes(8).toString('hex').toUpperCase()
  readonly started = new Date()
  readonly version: string = packageVersion()
  readonly #calls = new Map<string, Counter>()

  /** Counts one answered call frame; `error` is its error code when it failed. */
  record(call: string, ms: number, error?: string): void {
    let c = this.#calls.get(call)
    if (c === undefined) this.#calls.set(call, (c = { requests: 0, errors: 0, lastError: '', ns: 0, lastNs: 0 }))
    c.requests++
    c.lastNs = Math.round(ms * 1e6)
    c.ns += c.lastNs
    if (error !== undefined) {
      c.errors++
      c.lastError = error
    }
  }

  /** A `$SRV.STATS`-shaped reply for this gateway; `connections` goes in the metadata. */
  micro(connections: number): MicroStats {
    const endpoints: EndpointStats[] = [...this.#calls.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, c]) => ({
        name,
        subject: `ws:${name}`,
        queue_group: GATEWAY_SERVICE,
        num_requests: c.requests,
        num_errors: c.errors,
        last_error: c.lastError,
        processing_time: c.ns,
        average_processing_time: c.requests === 0 ? 0 : Math.round(c.ns / c.requests),
        data: { last_processing_time: c.lastNs },
      }))
    return {
      type: 'io.nats.micro.v1.stats_response',
      name: GATEWAY_SERVICE,
      id: this.id,
      version: this.version,
      metadata: { connections: String(connections), 'switchboard.synthetic': 'true' },
      started: this.started.toISOString(),
      endpoints,
    }
  }
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '0.0.0'
  } catch {
    return '0.0.0'
  }
}
