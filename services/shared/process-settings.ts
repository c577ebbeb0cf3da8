import { metricsListenFromEnv, type MetricsListen } from './metrics-listen.ts'
import { applyNice, niceFromEnv } from './priority.ts'

/**
 * What a worker process takes from its environment before it connects: its metrics listener
 * (SWITCHBOARD_METRICS_PORT) and its CPU niceness (SWITCHBOARD_NICE, applied here). On nonsense it says why on
 * stderr, prefixed with `label`, and exits 2.
 */
export function processSettingsOrExit(label: string, env: NodeJS.ProcessEnv = process.env): MetricsListen | undefined {
  try {
    const metrics = metricsListenFromEnv(env)
    const nice = niceFromEnv(env)
    if (nice !== undefined) applyNice(nice)
    return metrics
  } catch (err) {
    process.stderr.write(`${label}: ${(err as Error).message}\n`)
    process.exit(2)
  }
}
