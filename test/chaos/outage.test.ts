import t from 'tap'
import { callerOf } from 'switchboard/internal'
import { client, type RpcError } from 'switchboard'
import { connectFor, delay, serverFor } from '../harness/index.ts'
import { Echo } from '../fixtures/echo-contract.ts'
import { spawnEcho } from '../fixtures/spawn-process.ts'
import { formatFaultTable, runLoad, type FaultRow } from '../fixtures/fault-table.ts'

const rows: FaultRow[] = []
t.teardown(() => {
  if (rows.length > 0) console.log(`\nfault table (outage)\n${formatFaultTable(rows)}\n`)
})

async function until(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await delay(20)
  }
}

t.test('caller - connection loss: calls fail fast with UNAVAILABLE, work again after reconnect; workers reconnect forever', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const workers = await Promise.all(['o1', 'o2'].map((tag) => spawnEcho(t, server.url, tag)))
  const nc = await connectFor(t, server.url, { maxReconnectAttempts: -1, reconnectTimeWait: 200 })
  const caller = callerOf(nc)
  const echo = client(nc, Echo, { timeout: 3_000 })
  // a second connection that makes its first call only during the outage
  const idle = await connectFor(t, server.url, { maxReconnectAttempts: -1, reconnectTimeWait: 200 })
  t.equal((await echo.echo({ text: 'up' })).text, 'up')

  // Calls in flight when the server dies fail at once, not at their deadline.
  const inFlight = Array.from({ length: 20 }, () =>
    echo.slow({ ms: 2_000 }, { timeout: 10_000 }).then(
      () => 'OK',
      (e: RpcError) => e.code,
    ),
  )
  await delay(100)
  const killedAt = performance.now()
  await server.kill()
  const inFlightCodes = await Promise.all(inFlight)
  const inFlightMs = performance.now() - killedAt
  rows.push({
    scenario: 'outage: calls in flight when the server dies',
    calls: inFlight.length,
    failed: inFlightCodes.filter((c) => c !== 'OK').length,
    lost: 0,
    codes: { UNAVAILABLE: inFlightCodes.filter((c) => c === 'UNAVAILABLE').length },
    note: `all settled ${Math.round(inFlightMs)} ms after the kill (deadline 10000)`,
  })
  t.same(new Set(inFlightCodes), new Set(['UNAVAILABLE']), 'calls in flight fail with UNAVAILABLE')
  t.ok(inFlightMs < 2_000, `…at once (${Math.round(inFlightMs)} ms), not at their 10 s deadline`)

  await until(() => !caller.connected, 'the client to see the disconnect')
  const down = await runLoad({ total: 200, concurrency: 10, deadlineMs: 3_000, call: async (i) => (await echo.echo({ text: `d${i}` })).text === `d${i}` })
  rows.push({
    scenario: 'outage: calls while disconnected',
    calls: down.calls,
    failed: down.failed,
    lost: down.hung + down.wrong,
    codes: down.codes,
    note: `slowest failure ${Math.round(down.slowestFailureMs)} ms (deadline 3000, retries included)`,
  })
  t.equal(down.failed, down.calls, 'every call made while disconnected fails')
  t.same(Object.keys(down.codes), ['UNAVAILABLE'], 'with UNAVAILABLE')
  t.ok(down.slowestFailureMs < 500, `fast: slowest ${Math.round(down.slowestFailureMs)} ms against a 3 s deadline`)
  const firstAt = performance.now()
  const first = await client(idle, Echo, { timeout: 3_000 })
    .echo({ text: 'first' })
    .then(
      () => 'OK',
      (e: RpcError) => e.code,
    )
  const firstMs = performance.now() - firstAt
  t.equal(first, 'UNAVAILABLE', 'the first call ever made on a connection that is down fails UNAVAILABLE')
  t.ok(firstMs < 500, `…at once too (${Math.round(firstMs)} ms), not at its 3 s deadline`)

  // Down for longer than nats.js's default 10 reconnect attempts (200 ms apart): the workers must keep trying.
  await delay(4_000)
  t.equal(workers[0]!.child.exitCode, null, 'worker o1 still running while the server is down')
  const before = workers.map((w) => (w.output().match(/status reconnect\b/g) ?? []).length)
  await server.restart()
  await until(() => caller.connected, 'the client to reconnect')
  await Promise.all(workers.map((w, i) => until(() => (w.output().match(/status reconnect\b/g) ?? []).length > before[i]!, `worker ${i} to reconnect`)))

  const tags = new Set<string>()
  const after = await runLoad({
    total: 500,
    concurrency: 20,
    deadlineMs: 3_000,
    call: async (i) => {
      const r = await echo.echo({ text: `a${i}` })
      tags.add(r.worker)
      return r.text === `a${i}`
    },
  })
  rows.push({
    scenario: 'outage: calls after the server is back',
    calls: after.calls,
    failed: after.failed,
    lost: after.hung + after.wrong,
    codes: after.codes,
    note: 'same client, same worker processes',
  })
  t.equal(after.failed + after.hung + after.wrong, 0, 'every call after reconnect succeeds')
  t.same([...tags].sort(), ['o1', 'o2'], 'both original worker processes serve again')
  t.same(
    workers.map((w) => w.child.exitCode),
    [null, null],
    'no worker process was restarted',
  )
})
