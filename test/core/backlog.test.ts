import t from 'tap'
import { client, RpcError, silentLogger } from 'switchboard'
import { Backlog } from 'switchboard/internal'
import { connectFor, delay, failureOf, serverFor } from '../harness/index.ts'
import { Echo } from '../fixtures/echo-contract.ts'
import { startEcho } from '../fixtures/echo-worker.ts'

t.test('backlog - first in, first out, bounded, and compacts as it is drained', async (t) => {
  const b = new Backlog<number>(3)
  t.equal(b.take(), undefined, 'empty')
  t.ok(b.offer(1) && b.offer(2) && b.offer(3))
  t.notOk(b.offer(4), 'full at its capacity')
  t.equal(b.size, 3)
  t.equal(b.take(), 1)
  t.ok(b.offer(4), 'room again after a take')
  t.same(b.drain(), [2, 3, 4])
  t.equal(b.size, 0)
  const big = new Backlog<number>(10_000)
  for (let i = 0; i < 5_000; i++) big.offer(i)
  const taken = Array.from({ length: 3_000 }, () => big.take())
  t.same(
    taken,
    Array.from({ length: 3_000 }, (_, i) => i),
    'the first 3,000 in order',
  )
  t.equal(big.size, 2_000, 'size survives compaction')
  t.equal(big.take(), 3_000, 'order survives compaction')
  const mixed = new Backlog<number>(10)
  for (const n of [1, 2, 3, 4, 5]) mixed.offer(n)
  mixed.take()
  t.same(
    mixed.removeWhere((n) => n % 2 === 0),
    [2, 4],
    'removeWhere returns what it removed, in order',
  )
  t.same(mixed.drain(), [3, 5], 'and keeps the rest in order')
  for (const n of [6, 7, 8]) mixed.offer(n)
  t.same(
    mixed.removeWhere((n) => n > 100),
    [],
    'removing nothing',
  )
  t.same(
    mixed.removeWhere((n) => n === 8),
    [8],
    'removing the last',
  )
  t.same(mixed.drain(), [6, 7], 'the others stay, in order')
})

t.test('worker - calls past maxInFlight wait in the backlog (maxQueued), in order; past that RESOURCE_EXHAUSTED', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const worker = await startEcho(nc, 'w', { maxInFlight: 1, maxQueued: 2 })
  t.teardown(() => worker.stop())
  const echo = client(nc, Echo, { timeout: 5_000 })
  const done: number[] = []
  const calls = [0, 1, 2].map((i) => echo.slow({ ms: 150 }).then(() => done.push(i)))
  await delay(50)
  t.equal(worker.inFlight, 1, 'one runs')
  t.equal(worker.queued, 2, 'two wait')
  const refused = await failureOf(echo.slow({ ms: 0 }))
  t.equal(refused.code, 'RESOURCE_EXHAUSTED', 'the fourth is refused at once')
  t.match(refused.message, /1 calls in flight and 2 waiting/)
  await Promise.all(calls)
  t.same(done, [0, 1, 2], 'the waiting calls ran, oldest first')
  t.equal(worker.queued, 0)
  const stats = worker.stats().find((s) => s.name === 'slow')!
  t.equal(stats.num_requests, 4, 'every call counted once')
  t.equal(stats.num_errors, 1)
})

t.test('worker - a waiting call whose deadline passes gets DEADLINE_EXCEEDED without running', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  let ran = 0
  const worker = await startEcho(nc, 'w', { maxInFlight: 1, maxQueued: 5, logger: silentLogger })
  t.teardown(() => worker.stop())
  const echo = client(nc, Echo, { timeout: 5_000, retry: { attempts: 1 } })
  const busy = echo.slow({ ms: 300 })
  await delay(30)
  const late = failureOf(echo.echo({ text: 'late' }, { timeout: 100 })).then((e) => {
    ran = worker.stats().find((s) => s.name === 'echo')!.num_requests
    return e
  })
  t.equal((await late).code, 'DEADLINE_EXCEEDED', 'the caller gives up at its deadline')
  t.equal(ran, 0, 'while the call still waits, not run')
  await busy
  await delay(20)
  const echoStats = worker.stats().find((s) => s.name === 'echo')!
  t.equal(echoStats.num_errors, 1, 'the worker then answered it as an error…')
  t.match(echoStats.last_error, /504:deadline passed/, '…DEADLINE_EXCEEDED, without running the handler')
})

t.test('worker - a full backlog answers its expired calls DEADLINE_EXCEEDED to make room for live ones', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const worker = await startEcho(nc, 'w', { maxInFlight: 1, maxQueued: 2, logger: silentLogger })
  t.teardown(() => worker.stop())
  const echo = client(nc, Echo, { timeout: 5_000 })
  const running = echo.slow({ ms: 600 })
  await delay(30)
  const gaveUp = [failureOf(echo.slow({ ms: 0 }, { timeout: 100 })), failureOf(echo.slow({ ms: 0 }, { timeout: 100 }))]
  t.same(
    (await Promise.all(gaveUp)).map((e) => e.code),
    ['DEADLINE_EXCEEDED', 'DEADLINE_EXCEEDED'],
    'their callers gave up',
  )
  t.equal(worker.queued, 2, 'both still wait: the backlog is full')
  const live = echo.slow({ ms: 0 })
  await delay(30)
  t.equal(worker.queued, 1, 'the expired two were answered, the live call took a place')
  t.same(await live, { aborted: false }, 'and it runs once the slot is free')
  await running
  const slow = worker.stats().find((s) => s.name === 'slow')!
  t.equal(slow.num_requests, 4)
  t.equal(slow.num_errors, 2, 'the two expired calls count as errors…')
  t.match(slow.last_error, /504:deadline passed while rpc\.echo\.slow waited/, '…DEADLINE_EXCEEDED, never run')
})

t.test('worker - stop() runs the waiting calls; past stopTimeout they are answered UNAVAILABLE', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const echo = client(nc, Echo, { timeout: 5_000 })

  const patient = await startEcho(nc, 'p', { maxInFlight: 1, maxQueued: 3 })
  const queued = [echo.slow({ ms: 80 }), echo.slow({ ms: 80 }), echo.slow({ ms: 80 })]
  await delay(30)
  await patient.stop()
  t.same(
    (await Promise.all(queued)).map((r) => r.aborted),
    [false, false, false],
    'stop() waited for the backlog to run',
  )

  const hurried = await startEcho(nc, 'h', { maxInFlight: 1, maxQueued: 3, stopTimeout: 100, logger: silentLogger })
  const running = echo.slow({ ms: 2_000 })
  const waiting = [failureOf(echo.slow({ ms: 10 })), failureOf(echo.slow({ ms: 10 }))]
  await delay(30)
  t.equal(hurried.queued, 2)
  await hurried.stop()
  t.same((await running).aborted, true, 'the running call got its signal aborted')
  const errs = await Promise.all(waiting)
  t.same(
    errs.map((e) => e.code),
    ['UNAVAILABLE', 'UNAVAILABLE'],
    'the waiting ones are refused, never started',
  )
  t.ok(errs.every((e) => e instanceof RpcError && /stopped before the call started/.test(e.message)))
})
