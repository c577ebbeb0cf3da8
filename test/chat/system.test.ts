import type { NatsConnection } from '@nats-io/nats-core'
import t from 'tap'
import { decodeBody, encodeBody, silentLogger } from 'switchboard'
import { recipientsOf } from '../../services/message/entry.ts'
import { FeedTail } from '../../services/gateway/feed-tail.ts'
import { FeedPositions } from '../../services/shared/position.ts'
import { announcePresence } from '../../services/shared/presence.ts'
import { connectFor, failureOf, serverFor } from '../harness/index.ts'
import { chatClients, logIn, signUp, startSystem, type ChatClients } from '../harness/system.ts'

type Msg = { messageId: string; kind: string; from: string; text: string; to?: string; groupId?: string; sentAt: number }

const rejects = (p: Promise<unknown>) => failureOf(p)

/**
 * Plays an online gateway for a user, with the gateway's own parts: it answers chat.presence (and announces the
 * change, as a gateway does when a user's first session opens), tails the message stream and records the entries
 * for the user (a session's pushes); closing it announces the user gone and notes, with `message.seen`, what its
 * session was sent (so `message.offline` skips it), as a gateway does when the last session closes.
 */
async function fakeGateway(nc: NatsConnection, user: { userId: string; message: ChatClients['message'] }, sessions = 1) {
  const got: Msg[] = []
  const positions = new FeedPositions()
  let since = 0
  let last = 0
  const tail = new FeedTail(
    nc,
    (seq, entry) => {
      if (!recipientsOf(entry).includes(user.userId)) return
      got.push(entry as Msg)
      last = seq
    },
    silentLogger,
  )
  await tail.start()
  since = last = tail.lastSeq
  const presence = nc.subscribe(`chat.presence.${user.userId}`, { callback: (_err, m) => void m.respond(encodeBody({ sessions })) })
  await nc.flush()
  announcePresence(nc, user.userId)
  await nc.flush()
  return {
    got,
    close: async () => {
      tail.stop()
      presence.unsubscribe()
      announcePresence(nc, user.userId)
      await nc.flush()
      if (last > since) await user.message.seen({ from: positions.of(user.userId, since), pos: positions.of(user.userId, last) })
    },
  }
}

/** A message as both sides see it: without the position, which is each user's own. */
const shared = ({ pos: _pos, ...m }: { pos?: string }) => m

t.test('chat system - two copies of every module as processes', async (t) => {
  const server = await serverFor(t)
  const system = await startSystem(t, { natsUrl: server.url, copies: 2, env: { SWITCHBOARD_ADMIN_PASSWORD: 'admin-password-1' } })
  const nc = await connectFor(t, server.url)
  const anon = chatClients(nc)
  const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((n) => signUp(nc, n)))
  const a = alice!
  const b = bob!
  const c = carol!

  t.test('user - register, login, whoami, verify, lookup and profiles', async (t) => {
    const { userId } = await anon.user.register({ username: 'dave', password: 'dave-secret-1' })
    const login = await anon.user.login({ username: 'dave', password: 'dave-secret-1' })
    t.equal(login.userId, userId)
    t.match(login.token, /^[A-Za-z0-9_-]{43}$/, '256 random bits, base64url')
    t.ok(login.expiresAt > Date.now() + 23 * 3600_000 && login.expiresAt <= Date.now() + 24 * 3600_000)
    t.notMatch(JSON.stringify(login), /dave-secret-1|scrypt/)
    const dave = chatClients(nc, login.token)
    t.same(await dave.user.whoami({}), { userId, username: 'dave', role: 'user' })
    t.same(await anon.user.verify({ token: login.token }), { userId, username: 'dave', role: 'user' })
    t.same(await anon.user.lookup({ username: 'dave' }), { userId, username: 'dave' })
    const other = await anon.user.login({ username: 'dave', password: 'dave-secret-1' })
    t.not(other.token, login.token, 'every login opens its own session')
    const gw = await fakeGateway(nc, b)
    t.teardown(gw.close)
    const profiles = await anon.user.profiles({ userIds: [userId, b.userId, 'no-such-user'] })
    t.same(profiles, [
      { userId, username: 'dave', online: false },
      { userId: b.userId, username: 'bob', online: true },
    ])
  })

  t.test('user - declared errors by real conditions', async (t) => {
    t.equal((await rejects(anon.user.register({ username: 'alice', password: 'another-pass' }))).code, 'USERNAME_TAKEN')
    t.equal((await rejects(anon.user.login({ username: 'alice', password: 'wrong-password' }))).code, 'BAD_CREDENTIALS')
    t.equal((await rejects(anon.user.login({ username: 'nobody_here', password: 'whatever-1' }))).code, 'BAD_CREDENTIALS')
    t.equal((await rejects(anon.user.lookup({ username: 'nobody_here' }))).code, 'NOT_FOUND')
    t.equal((await rejects(anon.user.whoami({}))).code, 'UNAUTHENTICATED')
    t.equal((await rejects(anon.user.verify({ token: 'x'.repeat(43) }))).code, 'UNAUTHENTICATED')
    t.equal((await rejects(chatClients(nc, 'not a token').friend.list({}))).code, 'UNAUTHENTICATED')
    t.equal((await rejects(anon.user.register({ username: 'Bad Name', password: 'long-enough' }))).code, 'INVALID_ARGUMENT')
  })

  t.test('user - logout revokes the session everywhere', async (t) => {
    const s = await logIn(nc, 'carol')
    t.equal((await s.user.whoami({})).username, 'carol')
    await s.user.logout({})
    t.equal((await rejects(s.user.whoami({}))).code, 'UNAUTHENTICATED')
    t.equal((await rejects(s.friend.list({}))).code, 'UNAUTHENTICATED')
    t.equal((await rejects(anon.user.verify({ token: s.token }))).code, 'UNAUTHENTICATED')
    t.equal((await c.user.whoami({})).username, 'carol', 'other sessions of the user live on')
  })

  t.test('user - failed logins per username are limited across copies', async (t) => {
    await anon.user.register({ username: 'eve', password: 'eve-password' })
    for (let i = 0; i < 5; i++) t.equal((await rejects(anon.user.login({ username: 'eve', password: `guess-${i}-xx` }))).code, 'BAD_CREDENTIALS')
    const err = await rejects(anon.user.login({ username: 'eve', password: 'eve-password' }))
    t.equal(err.code, 'RESOURCE_EXHAUSTED', 'even the right password waits')
    t.ok(await anon.user.login({ username: 'alice', password: 'alice-password' }), 'other usernames are not limited')
  })

  t.test('friend - add, list and remove, both ways', async (t) => {
    await a.friend.add({ username: 'bob' })
    const gw = await fakeGateway(nc, a)
    t.teardown(gw.close)
    t.same(await b.friend.list({}), [{ userId: a.userId, username: 'alice', online: true, unread: 0 }])
    t.same(await a.friend.list({}), [{ userId: b.userId, username: 'bob', online: false, unread: 0 }])
    t.equal((await rejects(b.friend.add({ username: 'alice' }))).code, 'ALREADY_EXISTS')
    t.equal((await rejects(a.friend.add({ username: 'nobody_here' }))).code, 'NOT_FOUND')
    t.equal((await rejects(a.friend.add({ username: 'alice' }))).code, 'INVALID_ARGUMENT')
    t.equal((await rejects(a.friend.remove({ username: 'carol' }))).code, 'NOT_FOUND')
    await b.friend.remove({ username: 'alice' })
    t.same(await a.friend.list({}), [])
    t.same(await b.friend.list({}), [])
    await a.friend.add({ username: 'bob' })
    t.equal((await a.friend.list({})).length, 1)
  })

  t.test('group - create, join, members, mine, kick and leave', async (t) => {
    const { groupId } = await a.group.create({ name: 'Team ✓' })
    await b.group.join({ groupId })
    await b.group.join({ groupId })
    await c.group.join({ groupId })
    t.same(
      (await c.group.members({ groupId })).map((p) => p.username),
      ['alice', 'bob', 'carol'],
    )
    t.same(await b.group.mine({}), [{ groupId, name: 'Team ✓', unread: 0 }])
    t.equal((await rejects(b.group.kick({ groupId, username: 'carol' }))).code, 'PERMISSION_DENIED', 'only the owner kicks')
    t.equal((await rejects(a.group.kick({ groupId, username: 'nobody_here' }))).code, 'NOT_FOUND')
    await a.group.kick({ groupId, username: 'carol' })
    t.equal((await rejects(a.group.kick({ groupId, username: 'carol' }))).code, 'NOT_FOUND', 'no longer a member')
    t.equal((await rejects(c.group.members({ groupId }))).code, 'PERMISSION_DENIED', 'members only')
    t.same(await c.group.mine({}), [])
    await b.group.leave({ groupId })
    t.equal((await rejects(b.group.leave({ groupId }))).code, 'NOT_FOUND')
    t.same(
      (await a.group.members({ groupId })).map((p) => p.username),
      ['alice'],
    )
    t.equal((await rejects(a.group.join({ groupId: 'no-such-group' }))).code, 'NOT_FOUND')
    t.equal((await rejects(a.group.members({ groupId: 'no-such-group' }))).code, 'NOT_FOUND')
    t.equal((await rejects(a.group.leave({ groupId: 'no-such-group' }))).code, 'NOT_FOUND')
  })

  t.test('group - 20 users joining one group at the same moment all end up members', async (t) => {
    const { groupId } = await a.group.create({ name: 'crowd' })
    const users = await Promise.all(Array.from({ length: 20 }, (_, i) => signUp(nc, `crowd_${i}`)))
    await Promise.all(users.map((u) => u.group.join({ groupId })))
    const members = await a.group.members({ groupId })
    t.equal(members.length, 21)
    t.same(new Set(members.map((m) => m.userId)), new Set([a.userId, ...users.map((u) => u.userId)]))
    const mine = await Promise.all(users.map((u) => u.group.mine({})))
    t.ok(mine.every((g) => g.some((x) => x.groupId === groupId)))
  })

  t.test('message - direct messages: real time when online, kept when offline, then gone', async (t) => {
    const gw = await fakeGateway(nc, b)
    const live = await a.message.send({ to: 'bob', text: 'hello bob' })
    t.equal(live.delivered, true)
    t.match(gw.got, [{ messageId: live.messageId, kind: 'direct', from: 'alice', to: 'bob', text: 'hello bob' }])
    await gw.close()
    const sent: string[] = []
    for (const text of ['one', 'two', 'three']) {
      const r = await a.message.send({ to: 'bob', text })
      t.equal(r.delivered, false)
      sent.push(r.messageId)
    }
    const kept = await b.message.offline({})
    t.same(
      kept.map((m) => m.messageId),
      sent,
      'oldest first',
    )
    t.same(
      kept.map((m) => m.text),
      ['one', 'two', 'three'],
    )
    t.same(await b.message.offline({}), [], 'fetched once, then gone')
    t.equal(gw.got.length, 1)
    t.equal((await rejects(a.message.send({ to: 'nobody_here', text: 'x' }))).code, 'NOT_FOUND')
  })

  t.test('message - a retried send (same Rpc-Id) is stored and kept once', async (t) => {
    const first = await c.message.send({ to: 'bob', text: 'only once' }, { id: 'retry-test-1' })
    const again = await c.message.send({ to: 'bob', text: 'only once' }, { id: 'retry-test-1' })
    t.equal(again.messageId, first.messageId)
    const kept = await b.message.offline({})
    t.same(
      kept.map((m) => m.text),
      ['only once'],
    )
    const history = await b.message.history({ with: 'carol' })
    t.equal(history.length, 1)
  })

  t.test('message - history newest first, with limit and before', async (t) => {
    const all = await a.message.history({ with: 'bob' })
    t.same(
      all.map((m) => m.text),
      ['three', 'two', 'one', 'hello bob'],
    )
    t.same((await b.message.history({ with: 'alice' })).map(shared), all.map(shared), 'the same conversation from both sides (each with its own positions)')
    t.same(
      (await a.message.history({ with: 'bob', limit: 2 })).map((m) => m.text),
      ['three', 'two'],
    )
    const before = all[1]!.sentAt
    t.same(
      (await a.message.history({ with: 'bob', before, limit: 2 })).map((m) => m.text),
      all
        .filter((m) => m.sentAt < before)
        .slice(0, 2)
        .map((m) => m.text),
    )
    t.same(await a.message.history({ with: 'eve' }), [])
    t.equal((await rejects(a.message.history({ with: 'nobody_here' }))).code, 'NOT_FOUND')
  })

  t.test("message - group messages reach every member, the sender's other sessions too", async (t) => {
    const { groupId } = await a.group.create({ name: 'fan-out' })
    await b.group.join({ groupId })
    await c.group.join({ groupId })
    const gwA = await fakeGateway(nc, a)
    const gwB = await fakeGateway(nc, b)
    t.teardown(gwA.close)
    const r = await a.message.sendGroup({ groupId, text: 'hi all' })
    t.equal(r.delivered, 1, 'bob online, carol offline, alice is the sender')
    t.match(gwA.got, [{ messageId: r.messageId }], "in the sender's feed too: every session of hers sees it")
    t.match(gwB.got, [{ messageId: r.messageId, kind: 'group', groupId, from: 'alice', text: 'hi all' }])
    t.match(await c.message.offline({}), [{ messageId: r.messageId, kind: 'group', groupId, text: 'hi all' }])
    await gwB.close()
    t.same(await b.message.offline({}), [], 'bob was sent it live: not kept for him')
    t.same(
      (await c.message.history({ groupId })).map((m) => m.messageId),
      [r.messageId],
    )
    const outsider = await signUp(nc, 'outsider')
    t.equal((await rejects(outsider.message.sendGroup({ groupId, text: 'let me in' }))).code, 'PERMISSION_DENIED')
    t.equal((await rejects(outsider.message.history({ groupId }))).code, 'PERMISSION_DENIED')
    t.equal((await rejects(a.message.sendGroup({ groupId: 'no-such-group', text: 'x' }))).code, 'NOT_FOUND')
  })

  t.test('admin - stats and broadcast need role admin', async (t) => {
    const admin = await logIn(nc, 'admin', 'admin-password-1')
    t.equal((await admin.user.whoami({})).role, 'admin')
    t.equal((await rejects(a.admin.stats({}))).code, 'PERMISSION_DENIED')
    t.equal((await rejects(a.admin.broadcast({ text: 'x' }))).code, 'PERMISSION_DENIED')
    t.equal((await rejects(a.user.stats({}))).code, 'PERMISSION_DENIED')
    const got: Msg[] = []
    const gateways = [2, 3].map((n) =>
      nc.subscribe('chat.broadcast', {
        callback: (_e, m) => {
          got.push(decodeBody(m.data) as Msg)
          m.respond(encodeBody({ sessions: n }))
        },
      }),
    )
    const online = nc.subscribe('chat.online', { callback: (_e, m) => void m.respond(encodeBody({ userIds: [a.userId, b.userId] })) })
    const online2 = nc.subscribe('chat.online', { callback: (_e, m) => void m.respond(encodeBody({ userIds: [b.userId, c.userId] })) })
    t.teardown(() => {
      for (const s of [...gateways, online, online2]) s.unsubscribe()
    })
    await nc.flush()
    t.same(await admin.admin.broadcast({ text: 'maintenance at noon' }), { delivered: 5 })
    t.match(got, [{ kind: 'broadcast', from: 'admin', text: 'maintenance at noon' }, { kind: 'broadcast' }])
    const stats = await admin.admin.stats({})
    t.equal(stats.online, 3)
    t.equal(stats.users, 3 + 1 + 1 + 1 + 20 + 1, 'alice bob carol, dave, eve, admin, 20 crowd, outsider')
    t.equal(stats.groups, 3)
    t.equal(stats.messages, 1 + 3 + 1 + 1)
  })

  t.test('message - a message worker stopped mid-traffic: the other copy serves, nothing lost or doubled', async (t) => {
    const texts = Array.from({ length: 30 }, (_, i) => `m${i}`)
    const results: { messageId: string }[] = []
    let next = 0
    const sender = async () => {
      while (next < texts.length) {
        const text = texts[next++]!
        results.push(await a.message.send({ to: 'carol', text }))
        if (next === 8) void system.workers.message![0]!.stop('SIGTERM')
      }
    }
    await Promise.all([sender(), sender(), sender()])
    t.equal(await system.workers.message![0]!.exited, 0, 'the stopped worker exits 0')
    t.match(system.workers.message![0]!.output(), /stopping on SIGTERM/)
    t.equal(results.length, texts.length)
    const kept = await c.message.offline({})
    t.equal(kept.length, texts.length)
    t.same(new Set(kept.map((m) => m.text)), new Set(texts))
    t.same(new Set(kept.map((m) => m.messageId)), new Set(results.map((r) => r.messageId)))
    t.equal((await a.message.history({ with: 'carol', limit: 200 })).length, texts.length, 'stored once each')
  })
})
