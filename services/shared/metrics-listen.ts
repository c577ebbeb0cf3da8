/** The variables that make a worker process (services/worker.ts) serve Prometheus metrics at `GET /metrics`. */
export const METRICS_PORT_VAR = 'SWITCHBOARD_METRICS_PORT'
export const METRICS_HOST_VAR = 'SWITCHBOARD_METRICS_HOST'

/** Where a worker process serves `GET /metrics`: the first port of `first..last` it can bind (0..0: a free one). */
export interface MetricsListen {
  readonly first: number
  readonly last: number
  readonly host: string
}

/**
 * SWITCHBOARD_METRICS_PORT: unset or empty serves none; `9464` that port; `0` a free one; `9101-9107` the first free
 * port of the range (so the processes of `npm start` on one machine each take one, and deploy/prometheus.yml lists
 * them). SWITCHBOARD_METRICS_HOST: the address, 127.0.0.1 by default. Throws a TypeError naming the variable.
 */
export function metricsListenFromEnv(env: NodeJS.ProcessEnv): MetricsListen | undefined {
  const raw = env[METRICS_PORT_VAR]?.trim()
  if (!raw) return undefined
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(raw)
  const first = Number(m?.[1])
  const last = m?.[2] === undefined ? first : Number(m[2])
  if (m === null || last > 65_535 || last < first || (first === 0 && last !== 0)) {
    throw new TypeError(`${METRICS_PORT_VAR} must be a port (0: a free one) or a range like 9101-9107, got '${raw}'`)
  }
  return { first, last, host: env[METRICS_HOST_VAR]?.trim() || '127.0.0.1' }
}
