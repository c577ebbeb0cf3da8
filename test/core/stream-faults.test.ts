import t, { type Test } from 'tap'
import { client, RpcError } from 'switchboard'
import { connectFor, serverFor } from '../harness/index.ts'
import { spawnProcess } from '../harness/process.ts'
import { Feed } from '../fixtures/stream-contract.ts'

/** What a stream the worker process dies under comes to: the items, the error, and how long after the signal. */
async function streamUnder(t: Test, signal: NodeJS.Signals) {
  const server = await serverFor(t, { jetstream: false })
  const worker = spawnProcess(t, ['test/fixtures/stream-process.ts'], { NATS_URL: server.url, FEED_TAG: signal }, `feed worker (${signal})`)
  await worker.waitFor(/^ready /)
  const nc = await connectFor(t, server.url)
  // a short heartbeat, so that a worker that vanishes is found out in well under a second
  const feed = client(nc, Feed, { timeout: 20_000, stream: { heartbeat: 100 } })
  const items: number[] = []
  let sentAt = 0
  let err: unknown
  try {
    for await (const { i } of feed.count({ n: 1_000_000, delayMs: 2 })) {
      items.push(i)
      if (i === 50) {
        sentAt = Date.now()
        worker.child.kill(signal)
      }
    }
  } catch (e) {
    err = e
  }
  return { items, err, after: Date.now() - sentAt, worker }
}

t.test('stream - a worker that gets SIGTERM mid-stream ends it with UNAVAILABLE after the items it sent', async (t) => {
  const { items, err, after, worker } = await streamUnder(t, 'SIGTERM')
  t.ok(err instanceof RpcError, 'an RpcError, not a silent end')
  t.equal((err as RpcError).code, 'UNAVAILABLE')
  t.match((err as RpcError).message, /stopped with the stream of count open/, 'the worker said it was stopping')
  t.ok(after < 2_000, `${after} ms after the signal`)
  t.same(
    items,
    Array.from({ length: items.length }, (_, i) => i + 1),
    'every item up to the error, in order',
  )
  t.equal(await worker.exited, 0, 'the worker stopped gracefully')
})

t.test('stream - a worker killed mid-stream (SIGKILL) is UNAVAILABLE within the idle timeout, no hang', async (t) => {
  const { items, err, after, worker } = await streamUnder(t, 'SIGKILL')
  t.ok(err instanceof RpcError, 'an RpcError, not a silent end')
  t.equal((err as RpcError).code, 'UNAVAILABLE')
  t.match((err as RpcError).message, /no frame from the worker|is gone/)
  t.ok(after < 1_500, `${after} ms after the kill (idle timeout 300 ms)`)
  t.ok(items.length >= 50)
  t.same(
    items,
    Array.from({ length: items.length }, (_, i) => i + 1),
  )
  t.equal(await worker.exited, null, 'killed')
})
