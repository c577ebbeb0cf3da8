import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Counter, Histogram, type Registry, register as globalRegistry } from 'prom-client'

/** Prometheus metrics of a worker; unset fields take their value from DEFAULT_METRICS_OPTIONS. */
export interface MetricsOptions {
  /** Where the metrics are registered; prom-client's global registry by default. */
  readonly registry?: Registry
  /** Serve `GET /metrics` on this port from start() to stop(); 0 picks a free port; unset serves nothing. */
  readonly port?: number
  /** Address of the `/metrics` listener. */
  readonly host?: string
  /** Histogram buckets of call durations, in seconds. */
  readonly buckets?: readonly number[]
}

export interface ResolvedMetricsOptions {
  readonly registry: Registry
  readonly port: number | undefined
  readonly host: string
  readonly buckets: readonly number[]
}

export const DEFAULT_METRICS_OPTIONS: ResolvedMetricsOptions = {
  registry: globalRegistry,
  port: undefined,
  host: '127.0.0.1',
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
}

/** Fills unset options from DEFAULT_METRICS_OPTIONS; `true` means all defaults. */
export function resolveMetricsOptions(options: MetricsOptions | true): ResolvedMetricsOptions {
  const o = options === true ? {} : options
  const d = DEFAULT_METRICS_OPTIONS
  return { registry: o.registry ?? d.registry, port: o.port ?? d.port, host: o.host ?? d.host, buckets: o.buckets ?? d.buckets }
}

/** Metric names. */
export const MetricName = {
  Requests: 'switchboard_requests_total',
  Errors: 'switchboard_errors_total',
  Duration: 'switchboard_request_duration_seconds',
} as const

function metric<M>(registry: Registry, name: string, make: () => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? make()
}

/** The counters of one method, bound to its labels once so a call costs two increments and an observe. */
export class MethodMetrics {
  readonly #errors = new Map<string, { inc(): void }>()
  readonly #requests: { inc(): void }
  readonly #duration: { observe(v: number): void }

  constructor(
    readonly service: string,
    readonly method: string,
    readonly set: RpcMetrics,
  ) {
    this.#requests = set.requests.labels(service, method)
    this.#duration = set.duration.labels(service, method)
  }

  /** Counts one answered call; `code` is `OK` or the error code. */
  record(code: string, ms: number): void {
    this.#requests.inc()
    this.#duration.observe(ms / 1_000)
    if (code === 'OK') return
    let e = this.#errors.get(code)
    if (e === undefined) this.#errors.set(code, (e = this.set.errors.labels(this.service, this.method, code)))
    e.inc()
  }
}

/** The three metrics of calls in one registry, shared by every worker that registers there. */
export class RpcMetrics {
  readonly requests: Counter<'service' | 'method'>
  readonly errors: Counter<'service' | 'method' | 'code'>
  readonly duration: Histogram<'service' | 'method'>

  constructor(readonly options: ResolvedMetricsOptions) {
    const registers = [options.registry]
    this.requests = metric(
      options.registry,
      MetricName.Requests,
      () => new Counter({ name: MetricName.Requests, help: 'Calls answered, per method', labelNames: ['service', 'method'] as const, registers }),
    )
    this.errors = metric(
      options.registry,
      MetricName.Errors,
      () =>
        new Counter({
          name: MetricName.Errors,
          help: 'Calls answered with an error, per method and code',
          labelNames: ['service', 'method', 'code'] as const,
          registers,
        }),
    )
    this.duration = metric(
      options.registry,
      MetricName.Duration,
      () =>
        new Histogram({
          name: MetricName.Duration,
          help: 'Time from receiving a request to replying, per method, in seconds',
          labelNames: ['service', 'method'] as const,
          buckets: [...options.buckets],
          registers,
        }),
    )
  }

  /** The bound counters of one method. */
  method(service: string, method: string): MethodMetrics {
    return new MethodMetrics(service, method, this)
  }
}

/** An HTTP listener serving `GET /metrics` in the Prometheus text format. */
export interface MetricsServer {
  readonly url: string
  close(): Promise<void>
}

/** Starts serving `registry` on `host:port`; resolves once listening. */
export function serveMetrics(registry: Registry, port: number, host: string): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404).end()
      return
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(err.message),
    )
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      const { port: bound } = server.address() as AddressInfo
      resolve({
        url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}/metrics`,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections()
            server.close(() => done())
          }),
      })
    })
  })
}
