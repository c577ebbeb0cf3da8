import type { Msg, NatsConnection } from '@nats-io/nats-core'
import t, { type Test } from 'tap'
import { balancerOf as balancerFor, decodeEnvelope, DEFAULT_BALANCE, encodeBody } from 'switchboard/internal'
import { client, type Logger, type WorkerMiddleware } from 'switchboard'
import { connectFor, delay, failureOf, serverFor, statusOf } from '../harness/index.ts'
import { Echo } from '../fixtures/echo-contract.ts'
import { startEcho } from '../fixtures/echo-worker.ts'
import { testNkey } from '../fixtures/nats-conf.ts'

/** The client-side balancer the default clients of `nc` share for the echo service. */
const balancerOf = (nc: NatsConnection) => balancerFor(nc, 'rpc.echo', DEFAULT_BALANCE)

/** Waits until the balancer of `nc` makes direct calls: its probe found the instance subjects allowed. */
async function untilOn(t: Test, nc: NatsConnection): Promise<void> {
  for (let i = 0; i < 300 && balancerOf(nc).state !== 'on'; i++) await delay(10)
  t.equal(balancerOf(nc).state, 'on', 'the probe found instance subjects allowed')
}

/**
 * Records the subject of every call to echo.echo, through the queue group or to an instance (plain subscribers: they
 * never answer). Not `rpc.echo.>`: that would also take the balancer's probe, which then waits for its timeout.
 */
function sniff(nc: NatsConnection): string[] {
  const subjects: string[] = []
  for (const subject of ['rpc.echo.echo', 'rpc.echo.echo.*']) {
    nc.subscribe(subject, {
      callback: (_, msg) => {
        subjects.push(msg.subject)
      },
    })
  }
  return subjects
}

const request = (nc: NatsConnection, subject: string, body: unknown): Promise<Msg> => nc.request(subject, encodeBody(body), { timeout: 2_000 })

t.test('balance - a reply through the queue group names its instance; a direct call is served on the instance subject', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const worker = await startEcho(nc, 'w1', { instanceId: 'echo-one' })
  t.teardown(() => worker.stop())

  const viaQueue = await request(nc, 'rpc.echo.echo', { text: 'q' })
  t.equal(viaQueue.headers?.get('Rpc-Instance'), 'echo-one')
  const failed = await request(nc, 'rpc.echo.fail', { kind: 'not-found' })
  t.equal(failed.headers?.get('Rpc-Instance'), 'echo-one', 'an error reply names it too')
  t.equal(failed.headers?.get('Nats-Service-Error-Code'), '404', 'beside the service error headers')

  const direct = await request(nc, 'rpc.echo.echo.echo-one', { text: 'd' })
  t.same(decodeEnvelope(direct.data), { status: 'OK', result: { text: 'd', worker: 'w1' } })
  t.notOk(direct.headers?.has('Rpc-Instance'), 'a direct reply does not repeat the instance')
  const directFail = await request(nc, 'rpc.echo.fail.echo-one', { kind: 'not-found' })
  t.equal(directFail.headers?.get('Nats-Service-Error-Code'), '404')
  t.notOk(directFail.headers?.has('Rpc-Instance'))
  t.equal(worker.stats().find((s) => s.name === 'echo')!.num_requests, 2, 'both routes count in the same method stats')
})

t.test('balance - a worker with direct off, or an id that is not a NATS token, serves the queue group only', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  for (const [tag, options] of [
    ['off', { instanceId: 'echo-off', direct: false }],
    ['dotted', { instanceId: 'host.example' }],
  ] as const) {
    const worker = await startEcho(nc, tag, options)
    const reply = await request(nc, 'rpc.echo.echo', { text: tag })
    t.notOk(reply.headers?.has('Rpc-Instance'), `${tag}: no instance named`)
    await t.rejects(nc.request(`rpc.echo.echo.${options.instanceId}`, encodeBody({ text: tag }), { timeout: 1_000 }), `${tag}: nobody serves a direct subject`)
    const echo = client(nc, Echo)
    t.equal((await echo.echo({ text: tag })).worker, tag, `${tag}: calls work`)
    await worker.stop()
  }
})

t.test('balance - calls go to the instances the client has heard from; every 16th still through the queue group', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const w1 = await startEcho(nc, 'w1', { instanceId: 'one' })
  const w2 = await startEcho(nc, 'w2', { instanceId: 'two' })
  t.teardown(() => Promise.all([w1.stop(), w2.stop()]))
  const callerNc = await connectFor(t, server.url)
  const subjects = sniff(nc)
  await nc.flush()

  const echo = client(callerNc, Echo)
  await Promise.all(Array.from({ length: 20 }, (_, i) => echo.echo({ text: `warm ${i}` })))
  t.equal(balancerOf(callerNc).size, 2, 'twenty calls at once, all through the queue group: both instances heard')
  await untilOn(t, callerNc)
  t.same(subjects.splice(0), Array(20).fill('rpc.echo.echo'))

  const by = { w1: 0, w2: 0 }
  for (let i = 0; i < 64; i++) by[(await echo.echo({ text: `one at a time ${i}` })).worker as 'w1' | 'w2']++
  await nc.flush()
  const queued = subjects.filter((s) => s === 'rpc.echo.echo').length
  t.equal(queued, 4, '64 calls: 4 through the queue group')
  t.equal(subjects.filter((s) => s === 'rpc.echo.echo.one' || s === 'rpc.echo.echo.two').length, 60, 'the rest on the instance subjects')
  t.ok(by.w1 >= 28 && by.w2 >= 28, `one call at a time alternates between the instances (${by.w1} / ${by.w2})`)

  subjects.length = 0
  const plain = client(callerNc, Echo, { balance: false })
  for (let i = 0; i < 10; i++) await plain.echo({ text: `plain ${i}` })
  await nc.flush()
  t.same(subjects, Array(10).fill('rpc.echo.echo'), 'balance: false sends every call through the queue group')
})

t.test('balance - a slow instance gets fewer calls than a fast one (the queue group splits them evenly)', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const slowly: WorkerMiddleware = async function slowly(_, next) {
    await delay(25)
    return next()
  }
  const slow = await startEcho(nc, 'slow', { middleware: [slowly] })
  const fast = await startEcho(nc, 'fast')
  t.teardown(() => Promise.all([slow.stop(), fast.stop()]))

  const share = async (balance: boolean) => {
    const callerNc = await connectFor(t, server.url)
    const echo = client(callerNc, Echo, { balance })
    const by = { slow: 0, fast: 0 }
    await Promise.all(Array.from({ length: 20 }, (_, i) => echo.echo({ text: `warm ${i}` })))
    const loop = async () => {
      for (let i = 0; i < 25; i++) by[(await echo.echo({ text: 'x' })).worker as 'slow' | 'fast']++
    }
    await Promise.all(Array.from({ length: 8 }, loop))
    return by.fast / (by.fast + by.slow)
  }
  const balanced = await share(true)
  const random = await share(false)
  t.ok(balanced >= 0.8, `balanced: the fast instance served ${(balanced * 100).toFixed(0)} % of 200 calls`)
  t.ok(random <= 0.65, `queue group: the fast instance served ${(random * 100).toFixed(0)} % of 200 calls`)
})

t.test('balance - a call to an instance that stopped goes through the queue group at once, for any method', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const w1 = await startEcho(nc, 'w1')
  const w2 = await startEcho(nc, 'w2')
  t.teardown(() => w2.stop())
  const callerNc = await connectFor(t, server.url)
  const echo = client(callerNc, Echo, { timeout: 2_000 })
  await Promise.all(Array.from({ length: 20 }, () => echo.slow({ ms: 0 })))
  t.equal(balancerOf(callerNc).size, 2)
  await untilOn(t, callerNc)
  await w1.stop()
  const t0 = performance.now()
  // slow is not idempotent: no retries, so each call either reaches a live worker first time or fails
  const results = await Promise.all(Array.from({ length: 10 }, () => echo.slow({ ms: 0 })))
  t.same(results, Array(10).fill({ aborted: false }), 'every call answered')
  t.ok(performance.now() - t0 < 1_500, 'none waited for its deadline')
  t.equal(balancerOf(callerNc).size, 1, 'the stopped instance is forgotten')
  t.equal(w2.stats().find((s) => s.name === 'slow')!.num_requests >= 10, true, 'the live worker served them')
})

t.test('balance - a worker started later is found by the calls through the queue group', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const w1 = await startEcho(nc, 'w1')
  t.teardown(() => w1.stop())
  const callerNc = await connectFor(t, server.url)
  const echo = client(callerNc, Echo)
  await echo.echo({ text: 'first' })
  t.equal(balancerOf(callerNc).size, 1)
  await untilOn(t, callerNc)
  const w2 = await startEcho(nc, 'w2')
  t.teardown(() => w2.stop())
  let calls = 0
  while (balancerOf(callerNc).size < 2 && calls < 2_000) {
    await echo.echo({ text: 'looking' })
    calls++
  }
  t.equal(balancerOf(callerNc).size, 2, `found after ${calls} calls`)
  const by = { w1: 0, w2: 0 }
  for (let i = 0; i < 40; i++) by[(await echo.echo({ text: 'x' })).worker as 'w1' | 'w2']++
  t.ok(by.w2 >= 15, `then it serves its share (${by.w2} of 40)`)
})

/** A middleware that counts the runs of `slow` handlers. */
function countingSlow(): { runs: number; middleware: WorkerMiddleware } {
  const c = {
    runs: 0,
    middleware: async function countSlow(ctx, next) {
      if (ctx.method === 'slow') c.runs++
      return next()
    } as WorkerMiddleware,
  }
  return c
}

t.test('balance - an instance that lets a call reach its deadline is forgotten; the call ran once', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const counter = countingSlow()
  const worker = await startEcho(nc, 'w1', { middleware: [counter.middleware], stopTimeout: 100 })
  t.teardown(() => worker.stop())
  const callerNc = await connectFor(t, server.url)
  const echo = client(callerNc, Echo)
  await echo.echo({ text: 'learn' })
  t.equal(balancerOf(callerNc).size, 1)
  await untilOn(t, callerNc)
  const err = await failureOf(echo.slow({ ms: 1_000 }, { timeout: 200 }))
  t.equal(err.code, 'DEADLINE_EXCEEDED')
  await delay(100)
  t.equal(counter.runs, 1, 'not sent again')
  t.equal(balancerOf(callerNc).size, 0, 'forgotten until a reply through the queue group names it again')
  t.equal((await echo.echo({ text: 'again' })).worker, 'w1')
  t.equal(balancerOf(callerNc).size, 1)
})

t.test('balance - an instance that answers RESOURCE_EXHAUSTED is forgotten, so it draws no more calls', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const full = await startEcho(nc, 'full', { maxInFlight: 1, maxQueued: 0 })
  const free = await startEcho(nc, 'free')
  t.teardown(() => Promise.all([full.stop(), free.stop()]))
  const callerNc = await connectFor(t, server.url)
  const echo = client(callerNc, Echo)
  await Promise.allSettled(Array.from({ length: 20 }, () => echo.echo({ text: 'learn' })))
  t.equal(balancerOf(callerNc).size, 2)
  await untilOn(t, callerNc)
  // another caller takes the full worker's one slot
  const hog = nc.request(`rpc.echo.slow.${full.id}`, encodeBody({ ms: 500 }), { timeout: 2_000 })
  await delay(50)
  const statuses: string[] = []
  for (let i = 0; i < 6; i++) statuses.push(await statusOf(echo.slow({ ms: 0 })))
  t.same(
    statuses.filter((s) => s !== 'OK'),
    ['RESOURCE_EXHAUSTED'],
    `one call refused, the rest served elsewhere (${statuses.join(', ')})`,
  )
  t.equal(balancerOf(callerNc).size, 1)
  await hog
})

t.test('balance - a connection closed during a direct call fails it UNAVAILABLE and sends it nowhere else', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const counter = countingSlow()
  const w1 = await startEcho(nc, 'w1', { middleware: [counter.middleware] })
  const w2 = await startEcho(nc, 'w2', { middleware: [counter.middleware] })
  t.teardown(() => Promise.all([w1.stop(), w2.stop()]))
  const callerNc = await connectFor(t, server.url)
  const echo = client(callerNc, Echo, { timeout: 2_000 })
  await Promise.all(Array.from({ length: 20 }, () => echo.echo({ text: 'learn' })))
  t.equal(balancerOf(callerNc).size, 2)
  await untilOn(t, callerNc)
  const call = statusOf(echo.slow({ ms: 300 }))
  await delay(50)
  t.equal(counter.runs, 1, 'the call runs')
  await callerNc.close()
  t.equal(await call, 'UNAVAILABLE')
  await delay(400)
  t.equal(counter.runs, 1, 'and was not sent again')
})

const [FULL, NARROW, QUEUE_ONLY] = [testNkey(), testNkey(), testNkey()]
const PERMISSIONS = `
authorization {
  users = [
    { nkey: ${FULL.publicKey} }
    { nkey: ${NARROW.publicKey}, permissions: { publish: { allow: ["rpc.echo.echo"] }, subscribe: { allow: ["_INBOX.>"] } } }
    { nkey: ${QUEUE_ONLY.publicKey}, permissions: { publish: { allow: ["_INBOX.>", "$SRV.>"] }, subscribe: { allow: ["rpc.echo.*", "$SRV.>"] } } }
  ]
}
`

t.test('balance - when the server refuses direct subjects, both sides fall back to the queue group', async (t) => {
  const server = await serverFor(t, { jetstream: false, extra: PERMISSIONS })
  const fullNc = await connectFor(t, server.url, { authenticator: FULL.authenticator })
  const warned: string[] = []
  const logger: Logger = { debug() {}, info() {}, warn: (_, msg) => warned.push(String(msg)), error() {} }

  await t.test('balance - a worker that may not subscribe its instance subjects starts, serves the queue group and names no instance', async (t) => {
    const workerNc = await connectFor(t, server.url, { authenticator: QUEUE_ONLY.authenticator })
    const worker = await startEcho(workerNc, 'queue-only', { logger })
    t.match(warned, [/cannot subscribe to this instance's own subjects \(rpc\.echo\.echo\./])
    const reply = await request(fullNc, 'rpc.echo.echo', { text: 'x' })
    t.notOk(reply.headers?.has('Rpc-Instance'))
    t.equal((await client(fullNc, Echo).echo({ text: 'x' })).worker, 'queue-only')
    await worker.stop()
  })

  await t.test('balance - a client that may not publish to instance subjects turns balancing off and loses no call', async (t) => {
    const worker = await startEcho(fullNc, 'w')
    t.teardown(() => worker.stop())
    const narrowNc = await connectFor(t, server.url, { authenticator: NARROW.authenticator })
    const echo = client(narrowNc, Echo, { timeout: 2_000, retry: { attempts: 1 } })
    for (let i = 0; i < 10; i++) t.equal((await echo.echo({ text: `n${i}` })).worker, 'w')
    t.ok(balancerOf(narrowNc).off, 'the probe of the instance subjects was refused: no direct call was made')
    t.equal(balancerOf(narrowNc).size, 0)
  })
})
