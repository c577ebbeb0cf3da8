import { headers as natsHeaders, type Msg, type NatsConnection } from '@nats-io/nats-core'
import t from 'tap'
import { client, decodeEnvelope, encodeBody, RpcError, silentLogger } from 'switchboard'
import { encodeFailure, streamInboxOf } from 'switchboard/internal'
import { connectFor, delay, serverFor } from '../harness/index.ts'
import { Feed } from '../fixtures/stream-contract.ts'
import { startFeed } from '../fixtures/stream-worker.ts'

/** Reads a stream to its end: the items' numbers, and the error it ended with. */
async function drain(s: AsyncIterable<{ i: number }>): Promise<{ items: number[]; err: RpcError | undefined }> {
  const items: number[] = []
  try {
    for await (const { i } of s) items.push(i)
  } catch (err) {
    if (err instanceof RpcError) return { items, err }
    throw err
  }
  return { items, err: undefined }
}

const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1)

function hdrs(record: Record<string, string>) {
  const h = natsHeaders()
  for (const [k, v] of Object.entries(record)) h.set(k, v)
  return h
}

/** The first message on `subject` (a sniffer's view of the wire). */
function firstOn(nc: NatsConnection, subject: string, match: (m: Msg) => boolean = () => true): Promise<Msg> {
  return new Promise((resolve) => {
    const sub = nc.subscribe(subject, {
      callback: (_, m) => {
        if (!match(m)) return
        sub.unsubscribe()
        resolve(m)
      },
    })
  })
}

const GARBAGE = [new Uint8Array([0xc1]), new Uint8Array([0xdf, 0xff, 0xff, 0xff, 0xff]), new Uint8Array(0), encodeBody({ items: [1, 2] })]

t.test('stream - rogue frames never crash a worker or a client', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const [workerNc, nc, rogue] = await Promise.all([0, 1, 2].map(() => connectFor(t, server.url)))
  const worker = await startFeed(workerNc!, { instanceId: 'w1', logger: silentLogger })
  t.teardown(() => worker.stop())
  const feed = client(nc!, Feed, { timeout: 10_000 })
  const inbox = streamInboxOf(nc!)

  t.test('stream - garbage on the control subjects is ignored; the stream it targets runs on intact', async (t) => {
    const opened = firstOn(rogue!, `${inbox.prefix}.>`, (m) => m.headers?.get('Rpc-Frame') === 'open')
    const running = drain(feed.count({ n: 300, delayMs: 2 }))
    const control = (await opened).headers!.get('Rpc-Control')
    t.match(control, /^rpc\.feed\.\$stream\.w1\.[^.]+$/, 'the open frame names the control subject')
    const reply = `${rogue!.info!.client_id}.rogue`
    for (const body of GARBAGE) {
      for (const subject of [control, 'rpc.feed.$stream.w1.nosuchstream', 'rpc.feed.$stream.w1', 'rpc.feed.$stream.w1.a.b']) {
        rogue!.publish(subject, body)
        rogue!.publish(subject, body, { reply })
        for (const credit of ['abc', '-1', '1e3', '', '99999999999999999999', '5x', '0x5']) {
          rogue!.publish(subject, body, { reply, headers: hdrs({ 'Rpc-Frame': 'pull', 'Rpc-Credit': credit }) })
        }
        rogue!.publish(subject, body, { headers: hdrs({ 'Rpc-Frame': 'pull', 'Rpc-Credit': '5' }) }) // a pull with no reply
        rogue!.publish(subject, body, { reply, headers: hdrs({ 'Rpc-Frame': 'bogus' }) })
        // a cancel on the live control subject is a cancel: only the caller knows that subject
        if (subject !== control) rogue!.publish(subject, body, { headers: hdrs({ 'Rpc-Frame': 'cancel' }) })
      }
    }
    // a cancel for a stream this worker never had
    rogue!.publish('rpc.feed.$stream.w1.AAAAAAAAAAAAAAAAAAAAAA', new Uint8Array(0), { headers: hdrs({ 'Rpc-Frame': 'cancel' }) })
    await rogue!.flush()
    const { items, err } = await running
    t.equal(err, undefined)
    t.same(items, upTo(300), 'every item, in order')
    t.same((await drain(feed.count({ n: 5 }))).items, upTo(5), 'the worker serves the next stream')
    t.same(await feed.echo({ text: 'ok' }), { text: 'ok' }, 'and unary calls')
  })

  t.test('stream - frames for streams or pulls the caller does not know are ignored', async (t) => {
    const opened = firstOn(rogue!, `${inbox.prefix}.>`, (m) => m.headers?.get('Rpc-Frame') === 'open')
    const running = drain(feed.count({ n: 300, delayMs: 2 }))
    const openSubject = (await opened).subject
    const token = openSubject.slice(inbox.prefix.length + 1)
    const before = inbox.ignored
    const frames = [
      hdrs({ 'Rpc-Frame': 'items', 'Rpc-Seq': '0' }),
      hdrs({ 'Rpc-Frame': 'end', 'Rpc-Seq': '0' }),
      hdrs({ 'Rpc-Frame': 'open', 'Rpc-Seq': '0', 'Rpc-Control': 'evil.subject' }),
      hdrs({ 'Rpc-Frame': 'beat' }),
      undefined,
    ]
    for (const body of [...GARBAGE, encodeBody([{ i: 999 }]), encodeFailure('INTERNAL', 'forged')]) {
      for (const headers of frames) {
        for (const suffix of ['zz', '0', '1.2.3', '!!', `${token}.zzzzzz`, `${token}.0`, `${token}.-1`, `${token}.`, token]) {
          rogue!.publish(`${inbox.prefix}.${suffix}`, body, { headers })
        }
      }
    }
    await rogue!.flush()
    const { items, err } = await running
    t.equal(err, undefined, 'the stream never saw them')
    t.same(items, upTo(300))
    t.ok(inbox.ignored > before, `${inbox.ignored - before} frames ignored`)
  })

  t.test('stream - a forged frame on a live pull ends only that stream, with a clear error', async (t) => {
    const forge = async (frame: Record<string, string>, body: Uint8Array) => {
      const pulled = firstOn(rogue!, 'rpc.feed.$stream.w1.*', (m) => m.headers?.get('Rpc-Frame') === 'pull' && m.reply !== undefined)
      // slow items: the worker holds the first pulls for a while
      const running = drain(feed.count({ n: 50, delayMs: 300 }))
      const pull = await pulled
      rogue!.publish(pull.reply!, body, { headers: hdrs(frame) })
      return running
    }
    const ahead = await forge({ 'Rpc-Frame': 'items', 'Rpc-Seq': '999' }, encodeBody([{ i: 1 }]))
    t.match(ahead, { items: [], err: { code: 'UNAVAILABLE', message: /lost frames/ } }, 'out of order')
    const garbled = await forge({ 'Rpc-Frame': 'items', 'Rpc-Seq': '0' }, new Uint8Array([0xc1]))
    t.match(garbled, { items: [], err: { code: 'INTERNAL', message: /malformed stream frame/ } }, 'not msgpack')
    const notArray = await forge({ 'Rpc-Frame': 'items', 'Rpc-Seq': '0' }, encodeBody({ i: 1 }))
    t.match(notArray, { items: [], err: { code: 'INTERNAL', message: /not an array/ } }, 'not an array of items')
    const noSeq = await forge({ 'Rpc-Frame': 'items' }, encodeBody([{ i: 1 }]))
    t.match(noSeq, { items: [], err: { code: 'INTERNAL' } }, 'no sequence number')
    const badEnd = await forge({ 'Rpc-Frame': 'end', 'Rpc-Seq': '7' }, encodeFailure('OUT_OF_STOCK', 'forged'))
    t.match(badEnd, { items: [], err: { code: 'UNAVAILABLE', message: /lost frames/ } }, 'an end that does not add up')
    t.same((await drain(feed.count({ n: 5 }))).items, upTo(5), 'the client and the worker go on')
    for (let i = 0; i < 100 && worker.streams > 0; i++) await delay(20)
    t.equal(worker.streams, 0, 'the worker let the cancelled streams go')
  })

  t.test('stream - malformed opens are refused with INVALID_ARGUMENT; one without a reply is dropped', async (t) => {
    const body = encodeBody({ n: 3 })
    for (const [h, message] of [
      [{ 'Rpc-Stream': '2' }, /unsupported Rpc-Stream/],
      [{ 'Rpc-Stream': '1', 'Rpc-Heartbeat': 'soon' }, /bad Rpc-Heartbeat/],
      [{ 'Rpc-Stream': '1', 'Rpc-Heartbeat': '-5' }, /bad Rpc-Heartbeat/],
      [{ 'Rpc-Stream': '1', 'Rpc-Deadline': 'x' }, /Rpc-Deadline/],
    ] as const) {
      const reply = await rogue!.request('rpc.feed.count', body, { timeout: 1_000, headers: hdrs(h) })
      t.match(decodeEnvelope(reply.data), { status: 'INVALID_ARGUMENT', message }, JSON.stringify(h))
    }
    rogue!.publish('rpc.feed.count', body, { headers: hdrs({ 'Rpc-Stream': '1' }) })
    rogue!.publish('rpc.feed.count', new Uint8Array([0xc1]), { headers: hdrs({ 'Rpc-Stream': '1' }), reply: 'nowhere.at.all' })
    await rogue!.flush()
    t.same((await drain(feed.count({ n: 5 }))).items, upTo(5), 'the worker goes on')
  })
})

t.test('stream - a caller holds its ground against a rogue worker', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const [nc, rogue] = await Promise.all([0, 1].map(() => connectFor(t, server.url)))
  // a fake worker on `rogue.feed.count`: each open request gets the next script
  const scripts: ((open: Msg) => void)[] = []
  rogue!.subscribe('rogue.feed.count', { callback: (_, m) => scripts.shift()?.(m) })
  let evil = 0
  rogue!.subscribe('evil.>', {
    callback: () => {
      evil++
    },
  })
  const control = 'rogue.feed.$stream.x.y'
  let pulls: Msg[] = []
  rogue!.subscribe(control, {
    callback: (_, m) => {
      pulls.push(m)
    },
  })
  await rogue!.flush()
  const feed = client(nc!, Feed, { prefix: 'rogue', timeout: 5_000, stream: { heartbeat: 100 } })
  const openFrame = (m: Msg, c = control) =>
    rogue!.publish(m.reply!, new Uint8Array(0), { headers: hdrs({ 'Rpc-Frame': 'open', 'Rpc-Seq': '0', 'Rpc-Control': c }) })
  const run = async (script: (open: Msg) => void) => {
    pulls = []
    scripts.push(script)
    return drain(feed.count({ n: 1 }))
  }

  t.match(await run((m) => openFrame(m, 'evil.subject')), { err: { code: 'INTERNAL', message: /bad Rpc-Control/ } }, 'a control subject outside the service')
  t.match(await run((m) => openFrame(m, 'rogue.feed.$stream.*.>')), { err: { code: 'INTERNAL' } }, 'a wildcard control subject')
  await rogue!.flush()
  t.equal(evil, 0, 'the caller sent nothing to a subject it was not given by the service')

  const started = Date.now()
  const silent = await run((m) => openFrame(m))
  t.match(silent, { items: [], err: { code: 'UNAVAILABLE', message: /no frame from the worker/ } }, 'a worker that goes silent after the open')
  t.ok(Date.now() - started < 1_000, `found out in ${Date.now() - started} ms (idle timeout 300 ms)`)
  t.ok(pulls.length > 0 && pulls.every((p) => p.reply !== undefined), 'the caller pulled, each pull with a reply subject')

  t.match(
    await run((m) => rogue!.publish(m.reply!, encodeBody([{ i: 1 }]), { headers: hdrs({ 'Rpc-Frame': 'items', 'Rpc-Seq': '0' }) })),
    { err: { code: 'INTERNAL', message: /before the open frame/ } },
    'items before the open',
  )
  t.match(
    await run((m) => rogue!.publish(m.reply!, encodeBody({ status: 'OK', result: { i: 1 } }))),
    { err: { code: 'INTERNAL', message: /not a stream/ } },
    'a unary reply to a stream open',
  )
  t.match(await run((m) => rogue!.publish(m.reply!, new Uint8Array([0xc1]))), { err: { code: 'INTERNAL', message: /malformed reply/ } }, 'a garbage reply')

  // a well-behaved fake worker: open, then one item and the end, each answering one pull
  const good = await run((m) => {
    openFrame(m)
    const answer = () => {
      const [first, second] = pulls
      if (first === undefined || second === undefined) return setTimeout(answer, 5)
      rogue!.publish(first.reply!, encodeBody([{ i: 1 }]), { headers: hdrs({ 'Rpc-Frame': 'items', 'Rpc-Seq': '0' }) })
      rogue!.publish(second.reply!, encodeBody({ status: 'OK' }), { headers: hdrs({ 'Rpc-Frame': 'end', 'Rpc-Seq': '1' }) })
    }
    answer()
  })
  t.same(good, { items: [1], err: undefined }, 'a worker in another language only needs the frames of protocol §10')
  t.equal(streamInboxOf(nc!).size, 0, 'no stream left behind')
})
