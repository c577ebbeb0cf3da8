/**
 * Delivery that never leaves a gap (docs/delivery.md), with real processes: the chat modules as worker processes, two
 * gateway processes, clients on WebSockets. Every feed event a device gets is checked against what was sent: each
 * message once, in the order it was stored, none missing.
 */
import t from 'tap'
import { CallError } from '../../services/chat-client/connection.ts'
import { FeedDevice, type Got } from '../fixtures/feed-client.ts'
import { delay, failureOf, serverFor } from '../harness/index.ts'
import { startGatewayProcess, startSystem } from '../harness/system.ts'

/** The ids of the message events in `got`, in order. */
const ids = (got: readonly Got[]) => got.filter((g) => g.event === 'message').map((g) => g.messageId)

/** Sends `n` direct messages from `from` to `to`, one after another; resolves with their ids, in stored order. */
async function sendMany(from: FeedDevice, to: string, n: number, tag: string): Promise<string[]> {
  const out: string[] = []
  for (let i = 0; i < n; i++) out.push((await from.conn!.call<{ messageId: string }>('message.send', { to, text: `${tag} ${i}` })).messageId)
  return out
}

t.test('delivery - against worker and gateway processes', async (t) => {
  const server = await serverFor(t)
  await startSystem(t, { natsUrl: server.url, env: { SWITCHBOARD_EDIT_WINDOW_MS: '60000' } })
  const [gw1, gw2] = await Promise.all([startGatewayProcess(t, server.url, {}, 'gateway#1'), startGatewayProcess(t, server.url, {}, 'gateway#2')])
  const alice = new FeedDevice('alice')
  const bob = new FeedDevice('bob')
  await alice.login(gw1.url, true)
  await bob.login(gw1.url, true)
  t.teardown(() => Promise.all([alice.close(), bob.close()]))

  t.test('delivery - a socket dropped after k of n pushes: resuming gets exactly the n - k missed, in order, once', async (t) => {
    const n = 30
    const k = 11
    const start = bob.got.length
    let dropped = false
    bob.onFeed = () => {
      if (!dropped && bob.got.length - start === k) {
        dropped = true
        bob.drop()
      }
    }
    const sent = await sendMany(alice, 'bob', n, 'a')
    bob.onFeed = () => undefined
    t.ok(dropped, 'the socket was dropped')
    const before = ids(bob.got.slice(start))
    t.same(before, sent.slice(0, k), `the first ${k} came live, in order`)
    await bob.resume(gw2.url)
    await bob.waitFor(start + n)
    await delay(200)
    const after = ids(bob.got.slice(start + k))
    t.same(after, sent.slice(k), `resuming (on another gateway) brought the ${n - k} missed, in order`)
    t.same(ids(bob.got.slice(start)), sent, 'each once, nothing else')
  })

  t.test('delivery - two devices: one away during 50 messages gets all 50 on resume, the other got them live', async (t) => {
    const phone = new FeedDevice('bob')
    await phone.login(gw2.url)
    t.teardown(() => phone.close())
    const laptop0 = bob.got.length
    await phone.close()
    const sent = await sendMany(alice, 'bob', 50, 'b')
    await bob.waitFor(laptop0 + 50)
    t.same(ids(bob.got.slice(laptop0)), sent, 'the laptop got the 50 live')
    const phone0 = phone.got.length
    const r = await phone.resume(gw1.url)
    await phone.waitFor(phone0 + 50)
    await delay(200)
    t.same(ids(phone.got.slice(phone0)), sent, 'the phone got the same 50 on resume, in order, once')
    t.equal(r.pos, phone.pos, 'the resume answers with the position it caught up to')
  })

  t.test('delivery - messages stored while a catch-up runs appear exactly once, after it', async (t) => {
    const away = new FeedDevice('bob')
    await away.login(gw2.url)
    await away.close()
    const carol = new FeedDevice('carol')
    await carol.login(gw2.url, true)
    t.teardown(() => Promise.all([away.close(), carol.close()]))
    const first = await Promise.all([sendMany(alice, 'bob', 130, 'c1'), sendMany(carol, 'bob', 130, 'c2')])
    const got0 = away.got.length
    // the catch-up reads 260+ entries in pages of 200 while 120 more are stored
    const during = Promise.all([sendMany(alice, 'bob', 60, 'd1'), sendMany(carol, 'bob', 60, 'd2')])
    await away.resume(gw1.url)
    const more = await during
    const all = [...first.flat(), ...more.flat()]
    await away.waitFor(got0 + all.length, 30_000)
    await delay(300)
    const seen = ids(away.got.slice(got0))
    t.equal(seen.length, all.length, `${all.length} messages, no more`)
    t.equal(new Set(seen).size, seen.length, 'none twice')
    t.same(new Set(seen), new Set(all), 'none missing')
    t.same(
      seen.filter((id) => first[0]!.includes(id)),
      first[0],
      "alice's first 130 in the order she sent them",
    )
    t.same(
      seen.filter((id) => more[1]!.includes(id)),
      more[1],
      "and carol's last 60 in hers",
    )
    const positions = away.got.slice(got0).map((g) => Number.parseInt(g.pos.split('.')[0]!, 36))
    t.same(
      positions,
      [...positions].sort((a, b) => a - b),
      'in stream order',
    )
  })

  t.test('delivery - read positions never go backwards under concurrent updates from two devices', async (t) => {
    const second = new FeedDevice('bob')
    await second.login(gw2.url)
    t.teardown(() => second.close())
    const sent = bob.got.filter((g) => g.event === 'message').slice(-40)
    const shuffled = [...sent].sort(() => Math.random() - 0.5)
    const results = await Promise.all(
      shuffled.map((g, i) => (i % 2 === 0 ? bob : second).conn!.call<{ pos: string }>('message.read', { conversation: '@alice', pos: g.pos })),
    )
    const seq = (pos: string) => Number.parseInt(pos.split('.')[0]!, 36)
    const newest = Math.max(...sent.map((g) => seq(g.pos)))
    for (const [i, r] of results.entries()) t.ok(seq(r.pos) >= seq(shuffled[i]!.pos), `read ${i}: the stored position is at or past the one given`)
    const again = await bob.conn!.call<{ pos: string }>('message.read', { conversation: '@alice', pos: sent[0]!.pos })
    t.equal(seq(again.pos), newest, 'the oldest position does not move it back: it is the newest given')
    await bob.conn!.call('friend.add', { username: 'alice' })
    const one = await alice.conn!.call<{ pos: string }>('message.send', { to: 'bob', text: 'one more' })
    const unread = async () => (await bob.conn!.call<{ username: string; unread?: number }[]>('friend.list')).find((f) => f.username === 'alice')?.unread
    t.equal(await unread(), 1, 'one unread message from alice')
    await bob.waitFor(bob.got.length)
    for (let i = 0; i < 50 && bob.got.at(-1)?.text !== 'one more'; i++) await delay(20)
    const reads0 = second.others.length
    await bob.conn!.call('message.read', { conversation: '@alice', pos: bob.pos })
    t.equal(await unread(), 0, 'read: no unread left')
    for (let i = 0; i < 50 && second.others.length === reads0; i++) await delay(20)
    t.match(second.others.slice(reads0), [{ event: 'read', conversation: '@alice' }], "bob's other device is told, so its badge clears")
    t.ok(one.pos)
  })

  t.test('delivery - typing reaches the other side and is never stored', async (t) => {
    const before = (await bob.conn!.call<{ messages: unknown[]; pos: string }>('message.sync', { after: bob.pos })).pos
    const others0 = bob.others.length
    await alice.conn!.call('message.typing', { to: 'bob' })
    await alice.conn!.call('message.typing', { to: 'bob' })
    for (let i = 0; i < 50 && bob.others.length === others0; i++) await delay(20)
    t.match(bob.others.slice(others0), [{ event: 'typing', conversation: '@alice', from: 'alice' }], 'one event: the second within the second is dropped')
    const after = await bob.conn!.call<{ messages: unknown[]; pos: string }>('message.sync', { after: before })
    t.same(after.messages, [], 'nothing stored in the feed')
    t.equal(after.pos, before, 'the feed did not move')
  })

  t.test('delivery - edit and delete: online sessions see them, history and sync show the current state', async (t) => {
    const { messageId, pos } = await alice.conn!.call<{ messageId: string; pos: string }>('message.send', { to: 'bob', text: 'tpyo' })
    await alice.conn!.call('message.edit', { messageId, text: 'typo' })
    for (let i = 0; i < 50 && !bob.got.some((g) => g.event === 'edited' && g.messageId === messageId); i++) await delay(20)
    t.match(bob.got.at(-1), { event: 'edited', messageId, text: 'typo' }, 'bob sees the edit live')
    const history = await bob.conn!.call<{ messageId: string; text?: string; editedAt?: number }[]>('message.history', { with: 'alice', limit: 1 })
    t.match(history, [{ messageId, text: 'typo', editedAt: Number }], 'history shows the new text')
    await alice.conn!.call('message.delete', { messageId })
    for (let i = 0; i < 50 && !bob.got.some((g) => g.event === 'deleted'); i++) await delay(20)
    t.match(bob.got.at(-1), { event: 'deleted', messageId }, 'bob sees the delete live')
    const gone = await bob.conn!.call<{ messageId: string; text?: string; deleted?: boolean; pos: string }[]>('message.history', { with: 'alice', limit: 1 })
    t.match(gone, [{ messageId, deleted: true }], 'a deleted message keeps its place')
    t.equal(gone[0]!.text, undefined, 'with no text')
    const synced = await bob
      .conn!.call<{ messages: { messageId: string; op?: string; deleted?: boolean }[] }>('message.sync', { after: pos.replace(/^[^.]+/, '0') })
      .catch(() => undefined)
    t.equal(synced, undefined, "alice's position is not bob's")
    const edits = await alice.conn!.call<{ messages: { messageId: string; op?: string; deleted?: boolean; text?: string }[] }>('message.sync', { after: pos })
    t.match(
      edits.messages.map((m) => [m.messageId, m.op]),
      [
        [messageId, 'edit'],
        [messageId, 'delete'],
      ],
      "the sender's feed has the edit and the delete after the message",
    )
    t.equal((await failureOf(bob.conn!.call('message.edit', { messageId, text: 'not mine' }), CallError)).code, 'NOT_FOUND', 'only the author edits')
  })

  t.test('delivery - positions of another user, garbled ones and oversized pages are a clear INVALID_ARGUMENT', async (t) => {
    const mine = bob.pos!
    t.equal((await failureOf(alice.conn!.call('message.sync', { after: mine }), CallError)).code, 'INVALID_ARGUMENT', "bob's position is not alice's")
    t.equal((await failureOf(bob.conn!.call('message.sync', { after: 'zz.AAAAAAAAAAA' }), CallError)).code, 'INVALID_ARGUMENT', 'a forged one')
    t.equal((await failureOf(bob.conn!.call('message.sync', { after: 'not a position' }), CallError)).code, 'INVALID_ARGUMENT', 'a garbled one')
    t.equal((await failureOf(bob.conn!.call('message.sync', { limit: 10_000 }), CallError)).code, 'INVALID_ARGUMENT', 'pages are bounded')
    const resumed = await failureOf(new FeedDevice('alice').resume(gw1.url), CallError).catch((e: unknown) => e)
    t.ok(resumed instanceof Error, 'a resume without a token fails')
    const page = await bob.conn!.call<{ messages: unknown[]; more: boolean }>('message.sync', { limit: 5 })
    t.equal(page.messages.length, 5, 'from the start of the feed, 5 at a time')
    t.equal(page.more, true)
  })
})

t.test('delivery - resuming from before the retained feed is OUT_OF_RANGE: reload from history', async (t) => {
  const server = await serverFor(t)
  await startSystem(t, { natsUrl: server.url, modules: ['user', 'group', 'message'], env: { SWITCHBOARD_RETENTION_MS: '1000' } })
  const gw = await startGatewayProcess(t, server.url)
  const ann = new FeedDevice('ann')
  const ben = new FeedDevice('ben')
  await ann.login(gw.url, true)
  await ben.login(gw.url, true)
  t.teardown(() => Promise.all([ann.close(), ben.close()]))
  await sendMany(ann, 'ben', 2, 'old')
  await ben.waitFor(2)
  const old = ben.got[0]!.pos
  await delay(2_500)
  await sendMany(ann, 'ben', 1, 'new')
  const err = await failureOf(ben.conn!.call('message.sync', { after: old }), CallError)
  t.equal(err.code, 'OUT_OF_RANGE')
  t.equal(err.status, 410)
  t.match(err.message, /reload from history/)
  const resume = await failureOf(
    new FeedDevice('ben').login(gw.url).then(() => undefined),
    CallError,
  ).catch(() => undefined)
  t.equal(resume, undefined, 'a login without a position still works')
})
