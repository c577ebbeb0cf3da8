/**
 * A real Prometheus (Debian's `prometheus`, /usr/bin/prometheus) scrapes a worker's `/metrics` and the gateway's, and
 * its HTTP API must give back exactly the calls the test made. Run by `npm run test:interop` (.ci/run installs it).
 */
import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Registry } from 'prom-client'
import t, { type Test } from 'tap'
import { WebSocket } from 'ws'
import { client, silentLogger } from 'switchboard'
import { startGateway } from '../../services/gateway/gateway.ts'
import { Echo } from '../fixtures/echo-contract.ts'
import { startEcho } from '../fixtures/echo-worker.ts'
import { connectFor, delay, freePort, serverFor, statusOf } from '../harness/index.ts'
import { chatClients, ROOT, startSystem } from '../harness/system.ts'

const PROMETHEUS = '/usr/bin/prometheus'
const PROMTOOL = '/usr/bin/promtool'
const MISSING = `${PROMETHEUS} is missing: install Debian's Prometheus with \`apt-get install prometheus\` (.ci/run does it in CI)`

interface Prometheus {
  readonly url: string
  /** The samples of an instant query: labels and value. */
  query(q: string): Promise<{ metric: Record<string, string>; value: number }[]>
  /** The one value of an instant query; fails when it has none or several. */
  value(q: string): Promise<number>
  /** Resolves once every target of `job` was scraped, healthy, at or after `since` (ms since the epoch). */
  scrapedSince(job: string, since: number, timeoutMs?: number): Promise<void>
  output(): string
}

/** Starts a Prometheus on a free loopback port scraping `jobs` (name → `host:port` targets) every second; stopped at teardown. */
async function startPrometheus(t: Test, jobs: Record<string, readonly string[]>): Promise<Prometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-prometheus-'))
  const port = await freePort()
  const scrapes = Object.entries(jobs).map(
    ([job, targets]) =>
      `  - job_name: ${job}\n    metrics_path: /metrics\n    static_configs:\n      - targets: [${targets.map((x) => `'${x}'`).join(', ')}]\n`,
  )
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n${scrapes.join('')}`,
  )
  const proc = spawn(
    PROMETHEUS,
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let output = ''
  proc.stdout.on('data', (d: Buffer) => (output += d.toString()))
  proc.stderr.on('data', (d: Buffer) => (output += d.toString()))
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
  t.teardown(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM')
      const kill = setTimeout(() => proc.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(kill)
    }
    rmSync(dir, { recursive: true, force: true })
  })
  const url = `http://127.0.0.1:${port}`
  const query = async (q: string) => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(q)}`)
    const body = (await res.json()) as { status: string; error?: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } }
    if (body.status !== 'success') throw new Error(`query ${q}: ${body.error}`)
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }))
  }
  const value = async (q: string) => {
    const r = await query(q)
    if (r.length !== 1) throw new Error(`query ${q}: ${r.length} samples, expected one: ${JSON.stringify(r)}`)
    return r[0]!.value
  }
  const scrapedSince = async (job: string, since: number, timeoutMs = 30_000) => {
    const until = Date.now() + timeoutMs
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`prometheus exited (${proc.exitCode}): ${output}`)
      // timestamp() of the selector itself: of an expression (`up == 1`) it would be the time of the query
      const [ups, healthy] = await Promise.all([query(`timestamp(up{job="${job}"})`), query(`up{job="${job}"} == 1`)]).catch(() => [[], []])
      const count = jobs[job]!.length
      if (ups.length === count && healthy.length === count && ups.every((u) => u.value * 1_000 >= since)) return
      if (Date.now() > until) throw new Error(`prometheus did not scrape ${job} after ${new Date(since).toISOString()}: ${JSON.stringify(ups)} ${output}`)
      await delay(200)
    }
  }
  // ready: /-/ready answers 200 once the TSDB is open
  for (let i = 0; ; i++) {
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    )
    if (ready) break
    if (proc.exitCode !== null || i > 150) throw new Error(`prometheus did not start: ${output}`)
    await delay(100)
  }
  return { url, query, value, scrapedSince, output: () => output }
}

/** Opens a socket to the gateway and sends call frames, resolving with each reply's error code (or `OK`). */
async function socket(t: Test, url: string) {
  const ws = new WebSocket(url)
  await new Promise<void>((resolve, reject) => {
    ws.once('message', () => resolve()) // hello
    ws.once('error', reject)
  })
  t.teardown(() => ws.close())
  const waiting = new Map<number, (code: string) => void>()
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as { id?: number; error?: { code: string } }
    if (frame.id !== undefined) waiting.get(frame.id)?.(frame.error?.code ?? 'OK')
  })
  let next = 0
  return (call: string, input: unknown = {}) =>
    new Promise<string>((resolve) => {
      const id = ++next
      waiting.set(id, resolve)
      ws.send(JSON.stringify({ id, call, input }))
    })
}

const hostOf = (url: string) => new URL(url).host

t.test('prometheus - scrapes a worker and the gateway: counters, errors and histograms match the calls made', async (t) => {
  if (!existsSync(PROMETHEUS)) return t.fail(MISSING)
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const worker = await startEcho(nc, 'w1', { metrics: { port: 0, registry: new Registry() } })
  t.teardown(() => worker.stop())
  const gw = await startGateway(nc, nc, { port: 0, opsListen: { port: 0 }, callTimeout: 500, logger: silentLogger })
  t.teardown(() => gw.close())
  const echo = client(nc, Echo, { timeout: 5_000 })
  const run = async <T>(n: number, f: () => Promise<T>) => {
    const out: T[] = []
    for (let i = 0; i < n; i++) out.push(await f())
    return out
  }

  // one call of each method first, so every series has a sample before the rest (a rate needs two)
  await echo.echo({ text: 'warm' })
  t.equal(await statusOf(echo.fail({ kind: 'declared' })), 'OUT_OF_STOCK')
  await echo.slow({ ms: 40 })
  const call = await socket(t, gw.url)
  t.equal(await call('user.nope'), 'UNIMPLEMENTED', 'a name the gateway does not know')

  const prom = await startPrometheus(t, { worker: [hostOf(worker.metricsUrl!)], gateway: [hostOf(`${gw.opsUrl}metrics`)] })
  await prom.scrapedSince('worker', Date.now())
  await prom.scrapedSince('gateway', Date.now())
  t.equal(await prom.value('switchboard_requests_total{service="echo",method="echo"}'), 1, 'the first scrape has the warm-up call')

  await run(6, () => echo.echo({ text: 'hi' }))
  t.same(await run(2, () => statusOf(echo.fail({ kind: 'declared' }))), ['OUT_OF_STOCK', 'OUT_OF_STOCK'])
  t.same(await run(2, () => statusOf(echo.fail({ kind: 'not-found' }))), ['NOT_FOUND', 'NOT_FOUND'])
  await run(3, () => echo.slow({ ms: 40 }))
  t.same(await run(2, () => call('user.nope')), ['UNIMPLEMENTED', 'UNIMPLEMENTED'])
  t.same(await run(2, () => call('message.send', { to: 'x', text: 'hi' })), ['UNAUTHENTICATED', 'UNAUTHENTICATED'], 'a call that needs a session')
  const sent = Date.now()
  await prom.scrapedSince('worker', sent)
  await prom.scrapedSince('gateway', sent)

  t.equal(await prom.value('up{job="worker"}'), 1, 'the worker target is up')
  t.equal(await prom.value('up{job="gateway"}'), 1, 'the gateway target is up')
  // worker: 7 echo, 5 fail (3 OUT_OF_STOCK, 2 NOT_FOUND), 4 slow
  t.equal(await prom.value('switchboard_requests_total{service="echo",method="echo"}'), 7, 'echo calls')
  t.equal(await prom.value('switchboard_requests_total{service="echo",method="fail"}'), 5, 'fail calls')
  t.equal(await prom.value('sum(switchboard_requests_total{service="echo"})'), 16, 'every call of the service')
  t.equal(await prom.value('switchboard_errors_total{service="echo",method="fail",code="OUT_OF_STOCK"}'), 3, 'declared errors by code')
  t.equal(await prom.value('switchboard_errors_total{service="echo",method="fail",code="NOT_FOUND"}'), 2)
  t.same(await prom.query('switchboard_errors_total{method="echo"}'), [], 'no errors counted for the calls that succeeded')
  t.equal(await prom.value('switchboard_request_duration_seconds_count{service="echo",method="echo"}'), 7, 'a duration per call')
  t.equal(await prom.value('switchboard_request_duration_seconds_count{service="echo",method="slow"}'), 4)
  t.equal(await prom.value('switchboard_request_duration_seconds_bucket{service="echo",method="slow",le="0.025"}'), 0, 'no 40 ms call in the 25 ms bucket')
  t.equal(await prom.value('switchboard_request_duration_seconds_bucket{service="echo",method="slow",le="+Inf"}'), 4, 'all of them in +Inf')
  const sum = await prom.value('switchboard_request_duration_seconds_sum{service="echo",method="slow"}')
  t.ok(sum >= 4 * 0.039 && sum < 4 * 2.5, `the durations add up to 4 × 40 ms or a bit more (${sum} s)`)
  const p50 = await prom.value('histogram_quantile(0.5, sum by (le) (switchboard_request_duration_seconds_bucket{service="echo",method="slow"}))')
  t.ok(p50 > 0.025 && p50 <= 2.5, `histogram_quantile puts the median of the slow calls past 25 ms (${p50} s)`)
  const p99 = await prom.value('histogram_quantile(0.99, sum by (le) (rate(switchboard_request_duration_seconds_bucket{service="echo",method="slow"}[1m])))')
  t.ok(p99 > 0.025 && p99 <= 2.5, `and so does the p99 of the dashboard's rate over a minute (${p99} s)`)
  // gateway: 3 frames of an unknown name (counted as "other"), 2 message.send without a session
  t.equal(await prom.value('switchboard_gateway_calls_total{call="other"}'), 3, 'gateway frames by call')
  t.equal(await prom.value('switchboard_gateway_calls_total{call="message.send"}'), 2)
  t.equal(await prom.value('switchboard_gateway_call_errors_total{call="other",code="UNIMPLEMENTED"}'), 3, 'gateway errors by code')
  t.equal(await prom.value('switchboard_gateway_call_errors_total{call="message.send",code="UNAUTHENTICATED"}'), 2)
  t.equal(await prom.value('switchboard_gateway_call_duration_seconds_count{call="message.send"}'), 2, 'a gateway duration per frame')
  t.equal(await prom.value('sum(switchboard_gateway_refusals_total)'), 0, 'no refusals')
  t.equal(await prom.value('switchboard_gateway_sessions'), 1, 'the one socket open')

  // every query of the shipped dashboard is valid PromQL and has data: each series had a sample before the calls
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana-dashboard.json'), 'utf8')) as {
    panels: { title: string; targets?: { expr: string }[] }[]
  }
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((x) => ({ title: p.title, expr: x.expr })))
  t.ok(exprs.length >= 9, `${exprs.length} dashboard queries`)
  for (const { title, expr } of exprs) {
    const q = expr.replaceAll('$__rate_interval', '1m').replaceAll('$service', '.*')
    const result = await prom.query(q).catch((err: Error) => err)
    if (result instanceof Error) t.fail(`${title}: ${result.message}`)
    else t.ok(result.length > 0, `${title}: has data`)
  }
})

t.test('prometheus - worker processes with SWITCHBOARD_METRICS_PORT=<range> each take a port of it and are scraped', async (t) => {
  if (!existsSync(PROMETHEUS)) return t.fail(MISSING)
  if (existsSync(PROMTOOL)) {
    const { stdout } = await promisify(execFile)(PROMTOOL, ['check', 'config', join(ROOT, 'deploy/prometheus.yml')])
    t.match(stdout, /SUCCESS/, 'promtool accepts deploy/prometheus.yml')
  }
  const server = await serverFor(t)
  const first = await freePort()
  const system = await startSystem(t, { natsUrl: server.url, modules: ['user'], copies: 2, env: { SWITCHBOARD_METRICS_PORT: `${first}-${first + 9}` } })
  const urls = system.workers.user!.map((p) => /metrics at (http:\S+)/.exec(p.output())?.[1] ?? '')
  const ports = urls.map((u) => Number(new URL(u || 'http://x:0').port))
  t.equal(new Set(ports).size, 2, `two ports (${urls.join(', ')})`)
  t.ok(
    ports.every((p) => p >= first && p <= first + 9),
    'both from the range',
  )
  const nc = await connectFor(t, server.url)
  const anon = chatClients(nc)
  for (let i = 0; i < 3; i++) await anon.user.register({ username: `prom${i}`, password: `prom${i}-password` })
  t.equal(await statusOf(anon.user.login({ username: 'prom0', password: 'wrong-password' })), 'BAD_CREDENTIALS')
  const prom = await startPrometheus(t, { 'switchboard-workers': urls.map(hostOf) })
  await prom.scrapedSince('switchboard-workers', Date.now())
  t.equal(await prom.value('count(up{job="switchboard-workers"} == 1)'), 2, 'both worker processes are up')
  t.equal(await prom.value('sum(switchboard_requests_total{service="user",method="register"})'), 3, 'registrations, over both copies')
  t.equal(await prom.value('sum(switchboard_errors_total{service="user",method="login",code="BAD_CREDENTIALS"})'), 1, 'the refused login')
})
