import t from 'tap'
import { client } from 'switchboard'
import { startGateway } from '../../services/gateway/gateway.ts'
import { OpsMonitor } from '../../services/ops/monitor.ts'
import { resolveOpsOptions } from '../../services/ops/options.ts'
import type { OpsSnapshot } from '../../services/ops/snapshot.ts'
import { Echo } from '../fixtures/echo-contract.ts'
import { startEcho } from '../fixtures/echo-worker.ts'
import { createLedgerStream, startLedger } from '../fixtures/ledger/worker.ts'
import { connectFor, serverFor } from '../harness/index.ts'

const echoOf = (s: OpsSnapshot) => s.services.find((x) => x.name === 'echo')
const ledgerOf = (s: OpsSnapshot) => s.services.find((x) => x.name === 'ledger')

t.test('ops monitor - options are checked', async (t) => {
  t.throws(() => resolveOpsOptions({ intervalMs: 0 }), /intervalMs must be a positive integer/)
  t.throws(() => resolveOpsOptions({ intervalMs: 500, wait: 500 }), /must be shorter than intervalMs/)
  t.equal(resolveOpsOptions({ windowMs: 3_000 }).windowMs, 3_000)
})

t.test('ops monitor - counts, rates, errors and instances from $SRV.STATS', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const w1 = await startEcho(nc, 'w1')
  const w2 = await startEcho(nc, 'w2')
  t.teardown(() => Promise.all([w1.stop(), w2.stop()]))
  const monitor = new OpsMonitor(nc, { intervalMs: 60_000, wait: 500, missesToDrop: 2 })
  t.teardown(() => monitor.stop())
  t.equal(monitor.snapshot().polls, 0, 'nothing is asked before start()')

  const first = await monitor.poll()
  const echo0 = echoOf(first)!
  t.equal(echo0.instances.length, 2, 'both instances are listed')
  t.same(echo0.versions, [Echo.version], 'with their version')

  const echo = client(nc, Echo, { timeout: 2_000 })
  for (let i = 0; i < 8; i++) await echo.echo({ text: `x${i}` })
  for (let i = 0; i < 2; i++) await echo.fail({ kind: 'not-found' }).catch(() => undefined)
  const second = echoOf(await monitor.poll())!
  const m = second.methods.find((x) => x.name === 'echo')!
  const f = second.methods.find((x) => x.name === 'fail')!
  t.equal(m.requests, 8, 'requests are summed over the instances')
  t.ok(m.rate > 0, 'the rate is above zero after calls')
  t.ok(m.avgMs >= 0, 'an average latency is given')
  t.equal(f.errors, 2, 'errors are counted')
  t.equal(f.errorRatio, 1, 'every fail call failed')
  t.ok(second.rate.at(-1)! > 0, 'the service series shows the calls')
  t.equal(second.rate.length, 2, 'one point per poll')

  await w2.stop()
  const gone1 = echoOf(await monitor.poll())!
  t.equal(gone1.instances.filter((i) => i.stale).length, 1, 'a stopped instance is marked stale at its first miss')
  const gone2 = echoOf(await monitor.poll())!
  t.equal(gone2.instances.length, 1, 'and dropped at the second')
  const idle = echoOf(await monitor.poll())!
  const total = idle.methods.reduce((n, x) => n + x.requests, 0)
  t.equal(total, idle.instances[0]!.requests, 'totals are those of the live instances only')
})

t.test('ops monitor - the chat port serves only the chat page; the dashboard, its data and metrics are on the ops listener', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const gw = await startGateway(nc, nc, { port: 0, opsListen: { port: 0 }, ops: { intervalMs: 1_000, wait: 300 } })
  t.teardown(() => gw.close())
  t.equal(gw.httpUrl, `http://127.0.0.1:${gw.port}/`)
  t.match(gw.opsUrl, /^http:\/\/127\.0\.0\.1:\d+\/$/, 'the ops listener is on loopback')
  t.not(new URL(gw.opsUrl!).port, String(gw.port), 'on a port of its own')
  const opsUrl = gw.opsUrl!

  for (const [base, path, type] of [
    [gw.httpUrl, '/', 'text/html'],
    [gw.httpUrl, '/app.js', 'text/javascript'],
    [gw.httpUrl, '/style.css', 'text/css'],
    [opsUrl, '/ops', 'text/html'],
    [opsUrl, '/', 'text/html'],
    [opsUrl, '/ops.js', 'text/javascript'],
    [opsUrl, '/chart.js', 'text/javascript'],
    [opsUrl, '/style.css', 'text/css'],
  ] as const) {
    const res = await fetch(new URL(path, base))
    t.equal(res.status, 200, `GET ${path} of ${base === opsUrl ? 'the ops listener' : 'the chat port'}`)
    t.match(res.headers.get('content-type'), type, `${path} is ${type}`)
    t.ok((await res.text()).length > 100, `${path} has a body`)
  }
  for (const path of ['/ops', '/ops/api', '/ops/events', '/ops.js', '/metrics']) {
    t.equal((await fetch(new URL(path, gw.httpUrl))).status, 404, `an anonymous GET ${path} on the chat port is not found`)
  }
  const page = await fetch(gw.httpUrl)
  t.match(page.headers.get('content-security-policy'), "script-src 'self'", 'pages carry a content security policy: own scripts only')
  t.match(page.headers.get('content-security-policy'), "default-src 'none'", 'and nothing else by default')
  t.equal(page.headers.get('x-frame-options'), 'DENY', 'pages may not be framed')
  t.equal(page.headers.get('referrer-policy'), 'no-referrer')
  t.equal(page.headers.get('x-content-type-options'), 'nosniff')
  t.equal((await fetch(new URL('/nope', gw.httpUrl))).status, 404, 'unknown paths get 404')
  t.equal((await fetch(new URL('/ops/api', opsUrl), { method: 'POST' })).status, 404, 'only GET reads the dashboard')
  const metrics = await fetch(new URL('/metrics', opsUrl))
  t.equal(metrics.status, 200, 'GET /metrics on the ops listener')
  t.match(await metrics.text(), /switchboard_gateway_refusals_total\{limit="origin"\} 0/, 'in the Prometheus text format, with the edge refusals')

  const snap = (await (await fetch(new URL('/ops/api', opsUrl))).json()) as OpsSnapshot
  const self = snap.services.find((s) => s.name === 'gateway')
  t.ok(self, 'the gateway lists itself')
  t.equal(self?.instances[0]?.metadata.connections, '0', 'with its connections count')

  const ac = new AbortController()
  const res = await fetch(new URL('/ops/events', opsUrl), { signal: ac.signal })
  t.match(res.headers.get('content-type'), 'text/event-stream', '/ops/events is a server-sent event stream')
  const reader = res.body!.getReader()
  let text = ''
  while (!/^data: .*\n\n/m.test(text)) text += new TextDecoder().decode((await reader.read()).value)
  const event = JSON.parse(/^data: (.*)$/m.exec(text)![1]!) as OpsSnapshot
  t.ok(
    event.services.some((s) => s.name === 'gateway'),
    'its events carry snapshots',
  )
  ac.abort()
})

t.test('ops monitor - a second contract hash shows the mix of contracts, asked of $SRV.INFO', async (t) => {
  const server = await serverFor(t)
  const nc = await connectFor(t, server.url)
  await createLedgerStream(nc)
  const v1 = await startLedger(await connectFor(t, server.url), 'v1', 'a', { instanceId: 'v1-a' })
  t.teardown(() => v1.stop())
  const monitor = new OpsMonitor(nc, { intervalMs: 60_000, wait: 300 })
  t.teardown(() => monitor.stop())

  const one = ledgerOf(await monitor.poll())!
  t.equal(one.mix, undefined, 'one contract: no mix')
  t.match(one.instances, [{ id: 'v1-a', contractHash: /^[0-9a-f]{8,}$/ }], 'each instance with its contract hash')
  t.equal(ledgerOf(await monitor.poll())!.mix, undefined, 'still none at the next poll')

  const v2 = await startLedger(await connectFor(t, server.url), 'v2', 'b', { instanceId: 'v2-b' })
  t.teardown(() => v2.stop())
  const joined = ledgerOf(await monitor.poll())!
  t.equal(joined.instances.length, 2)
  t.equal(joined.mix, undefined, 'the poll that sees the second hash does not wait for INFO')
  let mixed = joined
  for (let i = 0; i < 10 && mixed.mix === undefined; i++) mixed = ledgerOf(await monitor.poll())!
  t.match(mixed.mix, { service: 'ledger', verdict: 'compatible', changes: [] }, 'a later poll shows the compatible mix')
  t.same(
    mixed.mix?.variants.map((v) => [v.version, v.hash, v.instances]),
    mixed.instances.map((i) => [i.version, i.contractHash, [i.id]]),
    'its contracts are those of the instances, oldest first',
  )

  await v2.stop()
  let single = mixed
  for (let i = 0; i < 5 && single.instances.length > 1; i++) single = ledgerOf(await monitor.poll())!
  t.equal(single.instances.length, 1)
  t.equal(single.mix, undefined, 'back to one contract: no mix')
})
