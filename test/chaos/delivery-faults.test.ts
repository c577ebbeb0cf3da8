/**
 * Delivery under faults, with real processes: a gateway SIGKILLed under a stream of messages, and a message worker
 * SIGKILLed under one. Every message the sender got OK for must reach the recipient's device (live, or by resuming on
 * another gateway), once, in order.
 */
import t, { type Test } from 'tap'
import { CallError } from '../../services/chat-client/connection.ts'
import { FeedDevice } from '../fixtures/feed-client.ts'
import { formatFaultTable, type FaultRow } from '../fixtures/fault-table.ts'
import { delay, serverFor } from '../harness/index.ts'
import { startGatewayProcess, startSystem } from '../harness/system.ts'

const rows: FaultRow[] = []
t.teardown(() => {
  if (rows.length > 0) console.log(`\nfault table (delivery)\n${formatFaultTable(rows)}\n`)
})

/** Sends `n` direct messages, `concurrency` at a time; `onSent(i)` after each. Resolves with the acknowledged ids and the failures by code. */
async function stream(from: FeedDevice, to: string, n: number, concurrency: number, onSent: (i: number) => void) {
  const acked: string[] = []
  const codes: Record<string, number> = {}
  let next = 0
  let done = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++
        try {
          acked.push((await from.conn!.call<{ messageId: string }>('message.send', { to, text: `s ${i}` })).messageId)
        } catch (err) {
          const code = err instanceof CallError ? err.code : String(err)
          codes[code] = (codes[code] ?? 0) + 1
        }
        onSent(++done)
      }
    }),
  )
  return { acked, codes }
}

/** Checks that `device` has every id of `acked` exactly once, in stream order; returns how many are missing. */
async function received(t: Test, device: FeedDevice, from: number, acked: readonly string[]): Promise<number> {
  const until = Date.now() + 20_000
  const has = () => new Set(device.got.slice(from).map((g) => g.messageId))
  while (acked.some((id) => !has().has(id)) && Date.now() < until) await delay(50)
  await delay(300)
  const seen = device.got.slice(from).filter((g) => g.event === 'message')
  const ids = seen.map((g) => g.messageId)
  const missing = acked.filter((id) => !ids.includes(id)).length
  t.equal(missing, 0, `every acknowledged message arrived (${acked.length})`)
  t.equal(new Set(ids).size, ids.length, 'none twice')
  const seqs = seen.map((g) => Number.parseInt(g.pos.split('.')[0]!, 36))
  t.same(
    seqs,
    [...seqs].sort((a, b) => a - b),
    'in stream order',
  )
  return missing
}

t.test("delivery faults - the recipient's gateway SIGKILLed under a stream: resuming on another gateway recovers every acknowledged message", async (t) => {
  const server = await serverFor(t)
  await startSystem(t, { natsUrl: server.url, modules: ['user', 'group', 'message'] })
  const [gw1, gw2] = await Promise.all([startGatewayProcess(t, server.url, {}, 'gateway#1'), startGatewayProcess(t, server.url, {}, 'gateway#2')])
  const alice = new FeedDevice('alice')
  const bob = new FeedDevice('bob')
  await alice.login(gw2.url, true)
  await bob.login(gw1.url, true)
  t.teardown(() => Promise.all([alice.close(), bob.close()]))
  const from = bob.got.length
  let killedAt = 0
  let resumedAt = 0
  const t0 = Date.now()
  const resumed = new Promise<void>((resolve, reject) => {
    bob.conn!.socket.once('close', () => {
      // a client notices its socket died and resumes on a gateway that is up, from the last position it saw
      void delay(100)
        .then(() => bob.resume(gw2.url))
        .then(() => {
          resumedAt = Date.now() - t0
          resolve()
        }, reject)
    })
  })
  const { acked, codes } = await stream(alice, 'bob', 400, 4, (i) => {
    if (i === 150) {
      killedAt = Date.now() - t0
      gw1.proc.child.kill('SIGKILL')
    }
  })
  // the sends may all be acknowledged before bob's resume is through: wait for it (bounded)
  await Promise.race([resumed, delay(10_000)])
  t.ok(killedAt > 0 && resumedAt > 0, 'the gateway was killed, and bob resumed')
  const missing = await received(t, bob, from, acked)
  const failed = Object.values(codes).reduce((a, b) => a + b, 0)
  t.equal(failed, 0, "alice's gateway was never down: no send failed")
  rows.push({
    scenario: "recipient's gateway SIGKILLed, resume on the other",
    calls: 400,
    failed,
    lost: missing,
    codes,
    note: `recovered ${resumedAt - killedAt} ms after the kill`,
  })
})

t.test('delivery faults - a message worker SIGKILLed under a stream loses nothing acknowledged', async (t) => {
  const server = await serverFor(t)
  const system = await startSystem(t, { natsUrl: server.url, modules: ['user', 'group', 'message'] })
  const second = await system.add('message')
  const gw = await startGatewayProcess(t, server.url)
  const alice = new FeedDevice('alice')
  const bob = new FeedDevice('bob')
  await alice.login(gw.url, true)
  await bob.login(gw.url, true)
  t.teardown(() => Promise.all([alice.close(), bob.close()]))
  const from = bob.got.length
  const { acked, codes } = await stream(alice, 'bob', 400, 8, (i) => {
    if (i === 150) second.child.kill('SIGKILL')
  })
  const missing = await received(t, bob, from, acked)
  const fromFeed = await bob.conn!.call<{ messages: { messageId: string }[]; more: boolean }>('message.sync', { limit: 500 })
  const stored = new Set(fromFeed.messages.map((m) => m.messageId))
  t.ok(
    acked.every((id) => stored.has(id)),
    'every acknowledged message is in the feed',
  )
  t.equal(fromFeed.messages.length, new Set(fromFeed.messages.map((m) => m.messageId)).size, 'each stored once (retries deduplicated)')
  const failed = Object.values(codes).reduce((a, b) => a + b, 0)
  rows.push({
    scenario: 'message worker SIGKILLed (1 of 2)',
    calls: 400,
    failed,
    lost: missing,
    codes,
    note: 'sends are idempotent: retried on the other worker',
  })
})
