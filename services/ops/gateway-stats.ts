import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { CallStats, type EndpointStats, type MicroStats } from 'switchboard'

/** The name the gateway goes by in the operations dashboard. */
export const GATEWAY_SERVICE = 'gateway'

/** Per-call counters of one gateway, reported in the NATS micro STATS shape (times in ns), like a worker's. */
export class GatewayStats {
  readonly id = randomBytes(8).toString('hex').toUpperCase()
  readonly started = new Date()
  readonly version: string = packageVersion()
  readonly #calls = new Map<string, CallStats>()

  /** Counts one answered call frame; `error` is its error code when it failed. */
  record(call: string, ms: number, error?: string): void {
    let c = this.#calls.get(call)
    if (c === undefined) this.#calls.set(call, (c = new CallStats()))
    c.record(ms, error)
  }

  /** A `$SRV.STATS`-shaped reply for this gateway; `connections` goes in the metadata. */
  micro(connections: number): MicroStats {
    const endpoints: EndpointStats[] = [...this.#calls.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, c]) => c.report(name, `ws:${name}`, GATEWAY_SERVICE))
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
