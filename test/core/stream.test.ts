import t from 'tap'
import { client, isRpcError, RpcError, serve, silentLogger, type WorkerMiddleware } from 'switchboard'
import { streamInboxOf } from 'switchboard/internal'
import { connectFor, delay, serverFor } from '../harness/index.ts'
import { Feed } from '../fixtures/stream-contract.ts'
import { feedHandlers, Probe, startFeed } from '../fixtures/stream-worker.ts'

/** Reads a stream to its end: the items, and the error it ended with (undefined for a normal end). */
async function drain<T>(s: AsyncIterable<T>, each?: (item: T, n: number) => unknown): Promise<{ items: T[]; err: RpcError | undefined }> {
  const items: T[] = []
  try {
    for await (const item of s) {
      items.push(item)
      await each?.(item, items.length)
    }
  } catch (err) {
    if (err instanceof RpcError) return { items, err }
    throw err
  }
  return { items, err: undefined }
}

const until = async (f: () => boolean, ms = 2_000) => {
  for (const end = Date.now() + ms; !f() && Date.now() < end; ) await delay(5)
}

t.test('stream - against one worker', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const workerNc = await connectFor(t, server.url)
  const nc = await connectFor(t, server.url)
  const probe = new Probe()
  const worker = await startFeed(workerNc, { logger: silentLogger }, probe)
  t.teardown(() => worker.stop())
  const feed = client(nc, Feed, { timeout: 20_000 })

  t.test('stream - 100,000 items arrive complete and in order', async (t) => {
    let next = 1
    let wrong = 0
    const { items, err } = await drain(feed.count({ n: 100_000 }), (item) => {
      if (item.i !== next++) wrong++
    })
    t.equal(err, undefined, 'a normal end')
    t.equal(items.length, 100_000)
    t.equal(wrong, 0, 'every item in its place')
    t.equal(items.at(-1)?.i, 100_000)
    t.equal(worker.streams, 0, 'the worker closed the stream')
    t.equal(streamInboxOf(nc).size, 0, 'the caller forgot it')
  })

  t.test('stream - an empty stream ends at once', async (t) => {
    t.same(await drain(feed.count({ n: 0 })), { items: [], err: undefined })
  })

  t.test('stream - a slow consumer holds the producer at its credit', async (t) => {
    const credit = 10
    const slow = client(nc, Feed, { timeout: 20_000, stream: { credit, heartbeat: 100 } })
    let consumed = 0
    let over = 0
    let most = 0
    const { items, err } = await drain(slow.count({ n: 200 }), async (_, n) => {
      consumed = n
      // the handler has made no more items than the caller had room for
      most = Math.max(most, probe.produced - consumed)
      if (probe.produced > consumed + credit) over++
      if (n === 5) {
        // stop reading for a while: the producer must stop at the credit, not run ahead
        await delay(600)
        t.equal(probe.produced, 5 + credit, 'the producer went up to the credit and stopped there')
      } else if (n % 50 === 0) await delay(20)
    })
    t.equal(err, undefined)
    t.equal(items.length, 200)
    t.equal(over, 0, 'never more than the credit ahead of the consumer')
    t.ok(most <= credit, `at most ${most} ahead`)
  })

  t.test('stream - beats keep a stream whose items come slowly open past the idle timeout', async (t) => {
    // 450 ms between items, a heartbeat of 100 ms: more than either side's limit of 3 heartbeats without an item
    const patient = client(nc, Feed, { timeout: 5_000, stream: { heartbeat: 100 } })
    const before = probe.aborted.length
    const { items, err } = await drain(patient.count({ n: 3, delayMs: 450 }))
    t.equal(err, undefined)
    t.same(
      items.map((x) => x.i),
      [1, 2, 3],
    )
    t.equal(probe.aborted.length, before, 'the worker never took the caller for gone')
  })

  t.test('stream - leaving the loop cancels: the handler signal fires and nothing more is sent', async (t) => {
    const inbox = streamInboxOf(nc)
    let frames = 0
    const sub = nc.subscribe(`${inbox.prefix}.>`, {
      callback: (_, m) => {
        if (m.headers?.get('Rpc-Frame') === 'items') frames++
      },
    })
    t.teardown(() => sub.unsubscribe())
    await nc.flush()
    const before = probe.aborted.length
    const cleaned = probe.cleanedUp
    let seen = 0
    for await (const { i } of feed.count({ n: 1_000, delayMs: 10 })) {
      seen = i
      if (i === 5) break
    }
    t.equal(seen, 5)
    await until(() => probe.aborted.length > before)
    t.match(probe.aborted[before], { code: 'CANCELLED' }, "the handler's signal fired with CANCELLED")
    const producedAtCancel = probe.produced
    t.ok(producedAtCancel <= 6, `the handler stopped within one item (made ${producedAtCancel})`)
    await until(() => probe.cleanedUp > cleaned)
    t.equal(probe.cleanedUp, cleaned + 1, "the generator's finally ran")
    const sent = frames
    await delay(200)
    t.equal(frames, sent, 'no frame after the cancel')
    t.equal(probe.produced, producedAtCancel, 'no item made after it')
    await until(() => worker.streams === 0)
    t.equal(worker.streams, 0)
    t.equal(worker.inFlight, 0, 'the slot is free again')
  })

  t.test('stream - an aborted signal ends the stream with CANCELLED at once', async (t) => {
    const before = probe.aborted.length
    const ac = new AbortController()
    const { items, err } = await drain(feed.count({ n: 1_000, delayMs: 10 }, { signal: ac.signal }), (_, n) => n === 3 && ac.abort())
    t.equal(items.length, 3)
    t.equal(err?.code, 'CANCELLED')
    await until(() => probe.aborted.length > before)
    t.match(probe.aborted[before], { code: 'CANCELLED' })
    const pre = await drain(feed.count({ n: 3 }, { signal: AbortSignal.abort() }))
    t.same(pre.items, [])
    t.equal(pre.err?.code, 'CANCELLED')
  })

  t.test('stream - the deadline ends a stream mid-way with DEADLINE_EXCEEDED, after the items sent in time', async (t) => {
    const before = probe.aborted.length
    const started = Date.now()
    const { items, err } = await drain(feed.count({ n: 1_000, delayMs: 20 }, { timeout: 400 }))
    const took = Date.now() - started
    t.equal(err?.code, 'DEADLINE_EXCEEDED')
    t.ok(items.length > 3 && items.length < 30, `${items.length} items before the deadline`)
    t.same(
      items.map((x) => x.i),
      Array.from({ length: items.length }, (_, i) => i + 1),
    )
    t.ok(took >= 390 && took < 1_500, `took ${took} ms`)
    await until(() => probe.aborted.length > before)
    t.match(probe.aborted[before], { code: 'DEADLINE_EXCEEDED' }, "the handler's signal fired at the deadline")
  })

  t.test('stream - a declared error after k items reaches the caller after those k items, with its typed data', async (t) => {
    const { items, err } = await drain(feed.fail({ after: 7, kind: 'declared' }))
    t.same(
      items.map((x) => x.i),
      [1, 2, 3, 4, 5, 6, 7],
    )
    t.ok(isRpcError(err, Feed, 'fail'))
    if (isRpcError(err, Feed, 'fail') && err.code === 'OUT_OF_STOCK') {
      const left: number = err.data.left
      t.equal(left, 0)
    }
    t.match(err, { code: 'OUT_OF_STOCK', status: 409, message: 'sold out', data: { sku: 'A-1', left: 0 } })
    const nf = await drain(feed.fail({ after: 0, kind: 'not-found' }))
    t.match(nf, { items: [], err: { code: 'NOT_FOUND', status: 404 } })
  })

  t.test('stream - an undeclared throw or an item off the contract is INTERNAL, without details', async (t) => {
    const boom = await drain(feed.fail({ after: 2, kind: 'boom' }))
    t.equal(boom.items.length, 2)
    t.match(boom.err, { code: 'INTERNAL' })
    t.notMatch(boom.err?.message ?? '', /secret/)
    const bad = await drain(feed.fail({ after: 2, kind: 'bad-item' }))
    t.equal(bad.items.length, 2, 'the item off the contract is not sent')
    t.match(bad.err, { code: 'INTERNAL', message: /does not match the contract/ })
  })

  t.test('stream - an item over max_payload is refused before sending, naming the limit', async (t) => {
    const max = nc.info!.max_payload
    const started = Date.now()
    const { items, err } = await drain(feed.big({ before: 3, bytes: max + 10 }))
    t.ok(Date.now() - started < 1_000, 'at once, not a timeout')
    t.equal(items.length, 3, 'the items before it arrive')
    t.equal(err?.code, 'RESOURCE_EXHAUSTED')
    t.match(err?.message, new RegExp(`item 4 of feed\\.big is \\d+ bytes, over the server's max_payload of ${max} bytes`))
    t.match(err?.data, { item: 4, max })
    const fits = await drain(feed.big({ before: 2, bytes: Math.floor(max * 0.9) }))
    t.equal(fits.err, undefined, 'an item just under the limit goes in a frame of its own')
    t.equal(fits.items[2]?.blob.length, Math.floor(max * 0.9))
  })

  t.test('stream - bad input is INVALID_ARGUMENT before sending; the worker checks it too', async (t) => {
    const early = await drain(feed.count({ n: -1 }))
    t.match(early, { items: [], err: { code: 'INVALID_ARGUMENT', data: { issues: [{ path: '/n' }] } } })
    const loose = client(nc, Feed, { validateInput: false })
    const late = await drain(loose.count({ n: 'x' } as never))
    t.match(late, { items: [], err: { code: 'INVALID_ARGUMENT' } })
  })

  t.test('stream - unary methods of the same contract still answer; each kind refuses the other call', async (t) => {
    t.same(await feed.echo({ text: 'hi' }), { text: 'hi' })
    const asUnary = await feed.$call('count', { n: 1 }).catch((e: RpcError) => e)
    t.match(asUnary, { code: 'INVALID_ARGUMENT', message: /is a stream method/ })
    const asStream = await drain(feed.$stream('echo', { text: 'x' }))
    t.match(asStream.err, { code: 'INVALID_ARGUMENT', message: /not a stream method/ })
    const none = await drain(feed.$stream('nope', {}))
    t.equal(none.err?.code, 'UNIMPLEMENTED')
  })

  t.test('stream - a plain request to a stream method is INVALID_ARGUMENT, naming the header', async (t) => {
    const { decodeEnvelope, encodeBody } = await import('switchboard')
    const reply = await nc.request('rpc.feed.count', encodeBody({ n: 1 }), { timeout: 1_000 })
    t.match(decodeEnvelope(reply.data), { status: 'INVALID_ARGUMENT', message: /Rpc-Stream: 1/ })
  })
})

t.test('stream - the open takes the unary path: middleware, auth headers and admission', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const seen: string[] = []
  const auth: WorkerMiddleware = async (ctx, next) => {
    if (ctx.headers.Authorization !== 'Bearer ok') throw ctx.error('UNAUTHENTICATED', 'who are you')
    seen.push(`before ${ctx.method}`)
    try {
      return await next()
    } finally {
      seen.push(`after ${ctx.method}`)
    }
  }
  const worker = await serve(nc, Feed, feedHandlers(), { middleware: [auth], maxInFlight: 1, maxQueued: 0, logger: silentLogger })
  t.teardown(() => worker.stop())
  const anon = client(nc, Feed)
  const denied = await drain(anon.count({ n: 3 }))
  t.match(denied, { items: [], err: { code: 'UNAUTHENTICATED', message: 'who are you' } })
  const feed = client(nc, Feed, { headers: { Authorization: 'Bearer ok' }, timeout: 5_000 })
  t.equal((await drain(feed.count({ n: 50 }))).items.length, 50)
  t.same(seen, ['before count', 'after count'], 'worker middleware wraps the whole stream')
  const open = feed.count({ n: 100, delayMs: 10 })[Symbol.asyncIterator]()
  t.same(await open.next(), { value: { i: 1 }, done: false })
  t.equal(worker.inFlight, 1, 'an open stream holds a slot')
  const full = await drain(feed.count({ n: 1 }))
  t.equal(full.err?.code, 'RESOURCE_EXHAUSTED', 'past maxInFlight a stream is refused like a call')
  await open.return?.()
  await until(() => worker.inFlight === 0)
  t.equal(worker.inFlight, 0)
  const stats = worker.stats().find((s) => s.name === 'count')!
  t.ok(stats.num_requests >= 3 && stats.num_errors >= 2, 'streams count in the stats')
})

t.test('stream - stop() ends open streams with UNAVAILABLE after the items sent, and stops quickly', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const [workerNc, nc] = await Promise.all([connectFor(t, server.url), connectFor(t, server.url)])
  const probe = new Probe()
  const worker = await startFeed(workerNc, { logger: silentLogger }, probe)
  const feed = client(nc, Feed, { timeout: 20_000 })
  let stopping: Promise<void> | undefined
  const started = Date.now()
  const { items, err } = await drain(feed.count({ n: 100_000, delayMs: 5 }), (_, n) => {
    if (n === 10) stopping = worker.stop()
  })
  t.equal(err?.code, 'UNAVAILABLE')
  t.match(err?.message, /stopped with the stream of count open/)
  t.ok(items.length >= 10 && items.length < 100, `${items.length} items, then the error`)
  t.same(
    items.map((x) => x.i),
    Array.from({ length: items.length }, (_, i) => i + 1),
  )
  await stopping
  t.ok(Date.now() - started < 3_000, 'stop() did not wait for the stream to run out')
  t.match(probe.aborted.at(-1), { code: 'UNAVAILABLE' }, "the handler's signal fired")
  t.equal(worker.inFlight, 0)
})
