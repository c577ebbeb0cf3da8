/**
 * The whole chat system under the REAL permissions (config/permissions.conf, as shipped): every module connects
 * as its own role (connectNats: NATS_USER ?? role, the seed config/dev-creds/<role>.nk, inbox `_INBOX_<role>`), a `client` connection
 * drives every feature, a `gateway` connection answers real-time delivery, and neither the server's log nor the
 * workers' output may show a single permissions violation.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { NatsConnection } from '@nats-io/nats-core'
import t from 'tap'
import { decodeBody, encodeBody, silentLogger } from 'switchboard'
import { FeedTail } from '../../services/gateway/feed-tail.ts'
import { recipientsOf } from '../../services/message/entry.ts'
import { announcePresence } from '../../services/shared/presence.ts'
import { confSecurity, connectAs, devSeedFile } from '../fixtures/nats-conf.ts'
import { delay, monitor, serverFor, statusOf } from '../harness/index.ts'
import { cli } from '../fixtures/micro/cli.ts'
import { chatClients, logIn, signUp, startGatewayProcess, startSystem } from '../harness/system.ts'
import { MODULE_NAMES } from '../../services/registry.ts'
import { devPublicKeys } from '../../services/shared/dev-credentials.ts'

const VIOLATION = /Permissions? Violation|Violation/i

const code = statusOf

/** The role of a connection by the nkey it authenticated with (connz reports the public key as its user). */
const roleOf = (authorizedUser: string | undefined) => (authorizedUser === undefined ? undefined : (devPublicKeys().get(authorizedUser) ?? authorizedUser))

/** The async errors (permission violations among them) the server sent to `nc`. */
function errorsOf(nc: NatsConnection): string[] {
  const seen: string[] = []
  void (async () => {
    for await (const s of nc.status()) if (s.type === 'error') seen.push(String((s as { error?: unknown }).error))
  })()
  return seen
}

type Msg = { kind: string; from: string; text: string }

/**
 * A gateway under its real credentials: tails the message stream on `feed` (role gateway-feed, the JetStream reads
 * the gateway is allowed), holds one session of each user in `online` (answers their presence on `nc`, role
 * gateway), and records what it was given.
 */
async function gatewayFor(nc: NatsConnection, feed: NatsConnection, online: () => Set<string>) {
  const got: { subject: string; msg: unknown }[] = []
  const sessions = (subject: string) => (online().has(subject.split('.')[2]!) ? 1 : 0)
  const tail = new FeedTail(
    feed,
    (_seq, entry) => {
      for (const userId of recipientsOf(entry)) if (online().has(userId)) got.push({ subject: `feed.${userId}`, msg: entry })
    },
    silentLogger,
  )
  const subs = [
    nc.subscribe('chat.presence.*', { callback: (_e, m) => void m.respond(encodeBody({ sessions: sessions(m.subject) })) }),
    nc.subscribe('chat.user.*', { callback: (_e, m) => void got.push({ subject: m.subject, msg: decodeBody(m.data) }) }),
    nc.subscribe('chat.broadcast', {
      callback: (_e, m) => {
        got.push({ subject: m.subject, msg: decodeBody(m.data) })
        m.respond(encodeBody({ sessions: online().size }))
      },
    }),
    nc.subscribe('chat.online', { callback: (_e, m) => void m.respond(encodeBody({ userIds: [...online()] })) }),
  ]
  await nc.flush()
  await tail.start()
  return {
    got,
    /** The user's presence changed: as a gateway does, it tells the modules' presence caches. */
    announce: (userId: string) => announcePresence(nc, userId),
    close: () => {
      tail.stop()
      for (const s of subs) s.unsubscribe()
    },
  }
}

t.test('system conf - the chat system under the shipped permissions', async (t) => {
  // The harness writes its config into `dir`, one level under the OS temp dir (what includeLine() expects).
  const dir = await mkdtemp(join(tmpdir(), 'switchboard-conf-'))
  const logFile = join(dir, 'server.log')
  const server = await serverFor(t, { dir, extra: `${confSecurity()}\nlog_file: "${logFile}"\n` })
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const serverLog = () => readFile(logFile, 'utf8').catch(() => '')

  const ADMIN_PASSWORD = 'admin-password-conf'
  const system = await startSystem(t, { natsUrl: server.url, env: { SWITCHBOARD_ADMIN_PASSWORD: ADMIN_PASSWORD } })
  const workers = Object.values(system.workers).flatMap((ps) => ps ?? [])

  const nc = await connectAs(server.url, 'client', { maxReconnectAttempts: 0, reconnect: false })
  t.teardown(() => nc.close())
  const gwNc = await connectAs(server.url, 'gateway', { maxReconnectAttempts: 0, reconnect: false })
  t.teardown(() => gwNc.close())
  const clientErrors = errorsOf(nc)
  const feedNc = await connectAs(server.url, 'gateway-feed', { maxReconnectAttempts: 0, reconnect: false })
  t.teardown(() => feedNc.close())
  const gatewayErrors = errorsOf(gwNc)
  const feedErrors = errorsOf(feedNc)

  t.test('system conf - every module is connected as its own NATS user', async (t) => {
    const connz = (await monitor(server, '/connz?auth=true&limit=1024')) as { connections: { name?: string; authorized_user?: string }[] }
    for (const m of MODULE_NAMES) {
      const conns = connz.connections.filter((c) => c.name === `switchboard-${m}`)
      t.equal(conns.length, 1, `one connection of ${m}`)
      t.equal(roleOf(conns[0]?.authorized_user), m, `${m} authenticated with the key of '${m}'`)
    }
    const reads = connz.connections.filter((c) => c.name === 'switchboard-message-reads')
    t.equal(reads.length, 1, 'the message worker has a second connection for its stream reads')
    t.equal(roleOf(reads[0]?.authorized_user), 'message-reads', "with the key of 'message-reads', which may not answer requests")
  })

  t.test('system conf - a gateway process connects twice: as gateway, and as gateway-feed for its tail of the stream', async (t) => {
    const { proc } = await startGatewayProcess(t, server.url)
    type Conn = { cid: number; name?: string; authorized_user?: string; subscriptions_list?: string[] }
    let conns: Conn[] = []
    for (let i = 0; i < 50; i++) {
      const connz = (await monitor(server, '/connz?auth=true&subs=1&limit=1024')) as { connections: Conn[] }
      conns = connz.connections.filter((c) => c.name?.startsWith('switchboard-gateway') === true)
      if (conns.some((c) => (c.subscriptions_list ?? []).some((s) => s.startsWith('_INBOX_gateway-feed.')))) break
      await delay(100)
    }
    t.same(conns.map((c) => [c.name, roleOf(c.authorized_user)]).sort(), [
      ['switchboard-gateway', 'gateway'],
      ['switchboard-gateway-feed', 'gateway-feed'],
    ])
    // an entry stored now reaches the gateway on its feed connection, not on the one that answers presence
    type Counts = { authorized_user?: string; out_msgs: number }
    const counts = async () => {
      const connz = (await monitor(server, '/connz?auth=true&limit=1024')) as { connections: (Counts & { name?: string })[] }
      return connz.connections.filter((c) => c.name === 'switchboard-gateway-feed').map((c) => c.out_msgs)[0] ?? 0
    }
    const before = await counts()
    const [p1, p2] = [await signUp(nc, 'feedprobe1'), await signUp(nc, 'feedprobe2')]
    await p1.message.send({ to: p2.username, text: 'through the feed connection' })
    let after = before
    for (let i = 0; i < 50 && after <= before; i++) {
      await delay(100)
      after = await counts()
    }
    t.ok(after > before, `the stored entry reached the gateway on its gateway-feed connection (${before} -> ${after} messages out)`)
    t.equal(await proc.stop(), 0, 'it stops cleanly, both connections drained')
  })

  const online = new Set<string>()
  const gateway = await gatewayFor(gwNc, feedNc, () => online)
  t.teardown(gateway.close)
  const anon = chatClients(nc)

  t.test('system conf - register, login, whoami, lookup, profiles', async (t) => {
    const alice = await signUp(nc, 'alice')
    t.equal(alice.token.length, 43, 'the login reply reached the client inbox _INBOX_client')
    t.same(await alice.user.whoami({}), { userId: alice.userId, username: 'alice', role: 'user' })
    t.same(await anon.user.lookup({ username: 'alice' }), { userId: alice.userId, username: 'alice' })
    online.add(alice.userId)
    gateway.announce(alice.userId)
    t.same(
      await anon.user.profiles({ userIds: [alice.userId] }),
      [{ userId: alice.userId, username: 'alice', online: true }],
      'presence via chat.presence.* (user -> gateway)',
    )
    online.delete(alice.userId)
    gateway.announce(alice.userId)
    t.equal(await code(anon.user.login({ username: 'alice', password: 'wrong-password' })), 'BAD_CREDENTIALS', 'the login limiter KV is writable by user')
  })

  t.test('system conf - friends, groups, direct, group and offline messages, history', async (t) => {
    const alice = await logIn(nc, 'alice')
    const bob = await signUp(nc, 'bob')
    const carol = await signUp(nc, 'carol')
    online.add(bob.userId)
    gateway.announce(bob.userId)

    t.same(await alice.friend.add({ username: 'bob' }), {})
    t.same(
      await alice.friend.list({}),
      [{ userId: bob.userId, username: 'bob', online: true, unread: 0 }],
      'friend -> user.profiles -> gateway presence, friend -> message.unread',
    )
    t.same(
      (await bob.friend.list({})).map((p) => p.username),
      ['alice'],
    )

    const { groupId } = await alice.group.create({ name: 'conf club' })
    await bob.group.join({ groupId })
    await carol.group.join({ groupId })
    t.same((await carol.group.members({ groupId })).map((m) => m.username).sort(), ['alice', 'bob', 'carol'])
    t.same(
      (await bob.group.mine({})).map((g) => g.name),
      ['conf club'],
    )

    const direct = await alice.message.send({ to: 'bob', text: 'hi bob (online)' })
    t.equal(direct.delivered, true, 'message -> chat.presence.<bob> -> gateway reply on _INBOX_message')
    let pushed: Msg | undefined
    for (let i = 0; i < 40 && pushed === undefined; i++) {
      pushed = gateway.got.find((g) => g.subject === `feed.${bob.userId}`)?.msg as Msg | undefined
      if (pushed === undefined) await delay(25)
    }
    t.match(pushed, { kind: 'direct', from: 'alice', text: 'hi bob (online)' }, "message -> SB_MESSAGES -> the gateway's tail")
    await bob.message.typing({ to: 'alice' })
    await alice.message.typing({ to: 'bob' })
    for (let i = 0; i < 40 && !gateway.got.some((g) => g.subject === `chat.user.${bob.userId}`); i++) await delay(25)
    t.match(gateway.got.find((g) => g.subject === `chat.user.${bob.userId}`)?.msg, { event: 'typing', from: 'alice' }, 'message -> chat.user.<bob> -> gateway')
    t.equal((await alice.message.send({ to: 'carol', text: 'hi carol (offline)' })).delivered, false)
    const fan = await alice.message.sendGroup({ groupId, text: 'hello club' })
    t.equal(fan.delivered, 1, 'bob reached, carol kept')
    t.same(
      (await carol.message.offline({})).map((m) => m.text),
      ['hi carol (offline)', 'hello club'],
      'offline messages: the feed after the sb_cursors KV',
    )
    t.same(await carol.message.offline({}), [], 'taken once')
    t.same(
      (await bob.message.history({ with: 'alice' })).map((m) => m.text),
      ['hi bob (online)'],
      'direct history from the SB_MESSAGES stream',
    )
    t.same(
      (await carol.message.history({ groupId })).map((m) => m.text),
      ['hello club'],
      'group history',
    )

    await alice.group.kick({ groupId, username: 'carol' })
    t.equal(await code(carol.group.members({ groupId })), 'PERMISSION_DENIED')
    t.same(await alice.friend.remove({ username: 'bob' }), {})
  })

  t.test('system conf - admin broadcast and stats', async (t) => {
    const admin = await logIn(nc, 'admin', ADMIN_PASSWORD)
    const bob = await logIn(nc, 'bob')
    t.equal((await admin.user.whoami({})).role, 'admin')
    t.equal(await code(bob.admin.broadcast({ text: 'not me' })), 'PERMISSION_DENIED')
    const before = gateway.got.filter((g) => g.subject === 'chat.broadcast').length
    t.same(await admin.admin.broadcast({ text: 'system notice' }), { delivered: online.size }, 'admin publishes chat.broadcast; the gateway answers')
    const last = gateway.got.filter((g) => g.subject === 'chat.broadcast')
    t.equal(last.length, before + 1)
    t.match(last.at(-1)?.msg as Msg, { kind: 'broadcast', from: 'admin', text: 'system notice' })
    // 6 users and 4 messages: two users and one message are the gateway-process test's probe
    t.same(await admin.admin.stats({}), { users: 6, online: 1, groups: 1, messages: 4 }, 'admin -> user/group/message.stats and chat.online')
  })

  t.test('system conf - the switchboard CLI works with the client role', async (t) => {
    const ls = await cli(['ls', '--json', '--server', server.url], { NATS_NKEY: devSeedFile('client') })
    t.equal(ls.code, 0, ls.stderr)
    const names = (JSON.parse(ls.stdout) as { name: string }[]).map((s) => s.name).sort()
    t.same(names, ['admin', 'friend', 'group', 'message', 'user'])
    const bad = await cli(['call', 'user.register', '{}', '--server', server.url, '--nkey', devSeedFile('client')])
    t.equal(bad.code, 1)
    t.match(bad.stdout, /INVALID_ARGUMENT/)
    const anon = await cli(['ls', '--server', server.url])
    t.equal(anon.code, 2, 'no credentials: a clear connection error')
    t.match(anon.stderr, /Authorization Violation/)
  })

  t.test('system conf - no permissions violation anywhere', async (t) => {
    await Promise.all([nc.flush(), gwNc.flush()])
    await delay(200)
    t.same(clientErrors, [], 'the client connection got no error')
    t.same(gatewayErrors, [], 'the gateway connection got no error')
    t.same(feedErrors, [], 'nor its feed connection')
    t.notMatch(await serverLog(), VIOLATION, 'the server logged no violation')
    for (const w of workers) {
      t.notMatch(w.output(), VIOLATION, `${w.name} printed no violation`)
      t.equal(w.child.exitCode, null, `${w.name} still runs`)
    }
    // Control: the watch does see a violation when there is one.
    nc.publish('chat.broadcast', encodeBody({ text: 'spoof' }))
    await nc.flush()
    let log = ''
    for (let i = 0; i < 40 && !VIOLATION.test(log); i++) {
      await delay(50)
      log = await serverLog()
    }
    t.match(log, /Violation.*chat\.broadcast|chat\.broadcast.*Violation/s, 'control: a client publishing chat.broadcast shows in the server log')
    t.match(clientErrors.join('\n'), /Permissions Violation for Publish to "chat\.broadcast"/, 'control: and on the client connection')
  })
})
