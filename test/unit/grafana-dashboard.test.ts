import { readFileSync } from 'node:fs'
import { Registry } from 'prom-client'
import t from 'tap'
import { resolveMetricsOptions, RpcMetrics } from 'switchboard/internal'
import { DEFAULT_OPS_PORT } from '../../services/gateway/env-options.ts'
import { GatewayMetrics } from '../../services/gateway/gateway-metrics.ts'
import { MODULES } from '../../services/registry.ts'

const deploy = (file: string) => readFileSync(new URL(`../../deploy/${file}`, import.meta.url), 'utf8')

interface Panel {
  readonly type: string
  readonly title: string
  readonly datasource?: { readonly uid: string }
  readonly gridPos?: unknown
  readonly targets?: readonly { readonly expr: string; readonly datasource?: { readonly uid: string } }[]
  readonly panels?: readonly Panel[]
}

/** Every metric the code registers, by name: its type and label names, read from the real registries. */
function knownMetrics(): Map<string, { type: string; labels: readonly string[] }> {
  const worker = new Registry()
  new RpcMetrics(resolveMetricsOptions({ registry: worker }))
  const known = new Map<string, { type: string; labels: readonly string[] }>()
  for (const registry of [worker, new GatewayMetrics(() => 0).registry]) {
    for (const m of registry.getMetricsAsArray()) {
      const { name, labelNames = [] } = m as unknown as { name: string; labelNames?: string[] }
      known.set(name, { type: (m as unknown as { type: string }).type, labels: labelNames })
    }
  }
  return known
}

/** The metric a series name in PromQL reads: a histogram's `_bucket`, `_count` and `_sum` series are its own. */
function metricOf(series: string, known: ReadonlyMap<string, { type: string }>): string | undefined {
  if (known.has(series)) return series
  const base = series.replace(/_(bucket|count|sum)$/, '')
  return known.get(base)?.type === 'histogram' ? base : undefined
}

/** How panels name the data source: Grafana's `${datasource}` variable (a literal here, not a template). */
const DATASOURCE = ['$', '{datasource}'].join('')

const dashboard = JSON.parse(deploy('grafana-dashboard.json')) as { uid: string; panels: Panel[]; templating: { list: { name: string; type: string }[] } }
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row')

t.test('grafana dashboard - its PromQL names only metrics, and labels of them, that the code registers', async (t) => {
  const known = knownMetrics()
  t.ok(known.size >= 8, `the registries list the metrics (${[...known.keys()].join(', ')})`)
  const used = new Set<string>()
  for (const panel of panels) {
    for (const { expr } of panel.targets ?? []) {
      const series = [...expr.matchAll(/\b(switchboard_[a-z_]+)(\{[^}]*\})?/g)]
      t.ok(series.length > 0, `${panel.title}: reads a switchboard metric`)
      const labels = new Set(['le', 'instance', 'job'])
      for (const [, name, matchers] of series) {
        const metric = metricOf(name!, known)
        t.ok(metric, `${panel.title}: ${name} is registered in src/ops/metrics.ts or services/gateway/gateway-metrics.ts`)
        if (metric === undefined) continue
        used.add(metric)
        for (const l of known.get(metric)!.labels) labels.add(l)
        for (const [, label] of (matchers ?? '').matchAll(/([a-z_]+)\s*=~?/g))
          t.ok(known.get(metric)!.labels.includes(label!), `${panel.title}: ${name} has label ${label}`)
      }
      for (const [, by] of expr.matchAll(/\bby \(([^)]*)\)/g)) {
        for (const label of by!.split(',').map((s) => s.trim())) t.ok(labels.has(label), `${panel.title}: groups by ${label}, a label of its metrics`)
      }
    }
  }
  t.same(
    [...known.keys()].filter((m) => !used.has(m)),
    [],
    'every metric has a panel',
  )
})

t.test('grafana dashboard - panels take the data source from the $datasource variable and have a place', async (t) => {
  t.ok(
    dashboard.templating.list.some((v) => v.name === 'datasource' && v.type === 'datasource'),
    'a datasource variable',
  )
  t.ok(panels.length >= 9, `${panels.length} panels`)
  for (const p of panels) {
    t.equal(p.datasource?.uid, DATASOURCE, `${p.title}: panel data source`)
    t.ok(p.gridPos, `${p.title}: gridPos`)
    t.ok((p.targets ?? []).length > 0, `${p.title}: has a query`)
    for (const target of p.targets ?? []) t.equal(target.datasource?.uid, DATASOURCE, `${p.title}: query data source`)
  }
  for (const want of [
    'Requests per second',
    'Errors per second',
    'Latency p50 / p99',
    'Gateway calls per second',
    'Gateway refusals per second',
    'Gateway sessions',
  ]) {
    t.ok(
      panels.some((p) => p.title === want),
      `a panel "${want}"`,
    )
  }
})

t.test('grafana dashboard - deploy/prometheus.yml scrapes the gateway ops port and one port per npm start worker', async (t) => {
  const yml = deploy('prometheus.yml')
  const job = (name: string) => yml.split(/^ {2}- job_name: /m).find((s) => s.startsWith(name)) ?? ''
  t.match(job('switchboard-gateway'), `'127.0.0.1:${DEFAULT_OPS_PORT}'`, 'the gateway ops listener of services/gateway/main.ts')
  const ports = [...job('switchboard-workers').matchAll(/'127\.0\.0\.1:(\d+)'/g)].map((m) => Number(m[1]))
  const workers = Object.values(MODULES).reduce((n, m) => n + m.copies, 0)
  t.equal(ports.length, workers, `one target per worker process of npm start (${workers})`)
  t.same(
    ports,
    ports.map((_, i) => ports[0]! + i),
    'consecutive ports',
  )
  t.match(yml, `SWITCHBOARD_METRICS_PORT=${ports[0]}-${ports.at(-1)} npm start`, 'its comment names the range the workers take')
})
