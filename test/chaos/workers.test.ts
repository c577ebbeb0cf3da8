import t from 'tap'
import { client } from 'switchboard'
import { connectFor, serverFor } from '../harness/index.ts'
import { Echo } from '../fixtures/echo-contract.ts'
import { spawnEcho } from '../fixtures/spawn-process.ts'
import { formatFaultTable, runLoad, type FaultRow } from '../fixtures/fault-table.ts'

const rows: FaultRow[] = []
t.teardown(() => {
  if (rows.length > 0) console.log(`\nfault table (workers)\n${formatFaultTable(rows)}\n`)
})

t.test('worker - scale down under load: SIGTERM of one of three workers midway fails no call', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const workers = await Promise.all(['w1', 'w2', 'w3'].map((tag) => spawnEcho(t, server.url, tag)))
  const nc = await connectFor(t, server.url)
  const echo = client(nc, Echo, { timeout: 5_000 })
  const total = 10_000
  let stoppedAt = -1
  // Half the calls are not idempotent (never retried): a graceful stop must lose none of them.
  const res = await runLoad({
    total,
    concurrency: 100,
    deadlineMs: 5_000,
    call: async (i) => {
      if (i % 2 === 0) return (await echo.echo({ text: `m${i}` })).text === `m${i}`
      return (await echo.slow({ ms: 1 })).aborted === false
    },
    onProgress: (done) => {
      if (done === total / 2) {
        stoppedAt = done
        workers[1]!.child.kill('SIGTERM')
      }
    },
  })
  rows.push({ scenario: 'scale down: SIGTERM 1 of 3 workers', calls: res.calls, failed: res.failed, lost: res.hung + res.wrong, codes: res.codes })
  t.equal(stoppedAt, total / 2, 'the worker was stopped midway')
  t.equal(res.calls, total)
  t.equal(res.failed, 0, `no call failed (${JSON.stringify(res.codes)})`)
  t.equal(res.hung, 0, 'no call hung')
  t.equal(res.wrong, 0, 'every reply matched its request')
  t.equal(await workers[1]!.exited, 0, 'the stopped worker exited cleanly')
  const served = Number(/stopped w2 served=(\d+)/.exec(workers[1]!.output())?.[1])
  t.ok(served > 0, `the stopped worker had served calls (${served}) before it stopped`)
  const tags = new Set<string>()
  for (let i = 0; i < 60; i++) tags.add((await echo.echo({ text: 'after' })).worker)
  t.same([...tags].sort(), ['w1', 'w3'], 'the two remaining workers serve every call afterwards')
})

t.test('worker - crash: SIGKILL mid-flight; idempotent calls retried elsewhere, others fail within their deadline', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const workers = await Promise.all(['c1', 'c2', 'c3'].map((tag) => spawnEcho(t, server.url, tag)))
  const nc = await connectFor(t, server.url)
  const echo = client(nc, Echo, { timeout: 3_000 })

  const idem = await runLoad({
    total: 3_000,
    concurrency: 100,
    deadlineMs: 3_000,
    call: async (i) => (await echo.echo({ text: `i${i}` })).text === `i${i}`,
    onProgress: (done) => done === 1_500 && workers[0]!.child.kill('SIGKILL'),
  })
  rows.push({ scenario: 'crash: SIGKILL 1 of 3, idempotent', calls: idem.calls, failed: idem.failed, lost: idem.hung + idem.wrong, codes: idem.codes })
  await workers[0]!.exited
  t.equal(workers[0]!.child.signalCode, 'SIGKILL')
  t.equal(idem.failed, 0, `no idempotent call failed (${JSON.stringify(idem.codes)})`)
  t.equal(idem.hung + idem.wrong, 0, 'none hung, every reply matched')

  const timeout = 1_000
  const nonIdem = await runLoad({
    total: 300,
    concurrency: 60,
    deadlineMs: timeout,
    graceMs: 1_000,
    call: async () => (await echo.slow({ ms: 200 }, { timeout })).aborted === false,
    onProgress: (done) => done === 60 && workers[1]!.child.kill('SIGKILL'),
  })
  rows.push({
    scenario: 'crash: SIGKILL 2nd worker, non-idempotent',
    calls: nonIdem.calls,
    failed: nonIdem.failed,
    lost: nonIdem.hung + nonIdem.wrong,
    codes: nonIdem.codes,
    note: `slowest failure ${Math.round(nonIdem.slowestFailureMs)} ms (deadline ${timeout})`,
  })
  await workers[1]!.exited
  t.equal(workers[1]!.child.signalCode, 'SIGKILL')
  t.ok(nonIdem.failed > 0, `the calls the killed worker held failed (${nonIdem.failed})`)
  t.same(
    Object.keys(nonIdem.codes).filter((c) => c !== 'UNAVAILABLE' && c !== 'DEADLINE_EXCEEDED'),
    [],
    'only UNAVAILABLE or DEADLINE_EXCEEDED',
  )
  t.ok(nonIdem.slowestFailureMs < timeout + 250, `every failure came within the deadline (${Math.round(nonIdem.slowestFailureMs)} ms)`)
  t.equal(nonIdem.hung, 0, 'no call hung')
  t.equal(nonIdem.ok + nonIdem.failed, nonIdem.calls, 'every call settled')
  t.equal((await echo.echo({ text: 'alive' })).worker, 'c3', 'the surviving worker serves')
})
