/**
 * Application-level security of the chat modules, against real worker processes on a real nats-server:
 * sessions (wrong, expired, revoked tokens), who may read which conversation, group membership and ownership,
 * the admin role, the login rate limit, and that passwords never appear in clear anywhere we can look
 * (replies and every other message on the wire, worker output, every KV value).
 */
import { randomBytes } from 'node:crypto'
import type { NatsConnection } from '@nats-io/nats-core'
import { Kvm } from '@nats-io/kv'
import t from 'tap'
import { decodeBody, encodeBody } from 'switchboard'
import { connectFor, delay, serverFor, statusOf } from '../harness/index.ts'
import { chatClients, logIn, signUp, startSystem, type SpawnedProcess, type TestUser } from '../harness/system.ts'

const code = statusOf

/** Every secret a test typed as a password; none may appear anywhere but in register/login requests. */
const secrets = new Set<string>()
const secret = (label: string) => {
  const s = `pw-${label}-${randomBytes(9).toString('base64url')}`
  secrets.add(s)
  return s
}
/** The subjects that legitimately carry a password: the requests that take one. */
const PASSWORD_SUBJECTS = new Set(['rpc.user.register', 'rpc.user.login'])
/** A register or login request: on the method subject, or on one instance's subject for it (`<subject>.<instanceId>`). */
const carriesPassword = (subject: string) => PASSWORD_SUBJECTS.has(subject.split('.', 3).join('.'))

function leaks(bytes: Uint8Array | string): string[] {
  const text = typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('latin1')
  return [...secrets].filter((s) => text.includes(s))
}

/** Registers `username` with a fresh secret password and logs in. */
async function newUser(nc: NatsConnection, username: string): Promise<TestUser & { password: string }> {
  const password = secret(username)
  return { ...(await signUp(nc, username, password)), password }
}

/** Records every message on the server (except $SYS): what the workers reply, publish and store. */
function wireTap(nc: NatsConnection) {
  const seen: { subject: string; data: Uint8Array }[] = []
  nc.subscribe('>', {
    callback: (_err, m) => {
      seen.push({ subject: m.subject, data: m.data.slice() })
      // Being a subscriber, the tap would turn the modules' fast "no responders" into timeouts: answer as a gateway
      // that holds no session.
      if (/^chat\.(deliver|presence)\./.test(m.subject) || m.subject === 'chat.broadcast') m.respond(encodeBody({ sessions: 0 }))
      if (m.subject === 'chat.online') m.respond(encodeBody({ userIds: [] }))
    },
  })
  return seen
}

const workersOf = (system: { workers: Readonly<Partial<Record<string, readonly SpawnedProcess[]>>> }) => Object.values(system.workers).flatMap((ps) => ps ?? [])

t.test('app security - chat modules as processes on one server', async (t) => {
  const server = await serverFor(t)
  const tapNc = await connectFor(t, server.url)
  const wire = wireTap(tapNc)
  await tapNc.flush()

  const ADMIN_PASSWORD = secret('admin')
  const LOGIN_FAILURES = 3
  const system = await startSystem(t, {
    natsUrl: server.url,
    copies: 1,
    env: {
      SWITCHBOARD_ADMIN_PASSWORD: ADMIN_PASSWORD,
      SWITCHBOARD_LOGIN_FAILURES: String(LOGIN_FAILURES),
      SWITCHBOARD_LOGIN_WINDOW_MS: '60000',
      LOG_LEVEL: 'debug',
    },
  })
  const nc = await connectFor(t, server.url)
  const anon = chatClients(nc)
  const alice = await newUser(nc, 'alice')
  const bob = await newUser(nc, 'bob')
  const carol = await newUser(nc, 'carol')
  const dave = await newUser(nc, 'dave')
  const admin = await logIn(nc, 'admin', ADMIN_PASSWORD)

  t.test('user - a wrong token is UNAUTHENTICATED on every module', async (t) => {
    const forged = randomBytes(32).toString('base64url')
    const flipped = (alice.token[0] === 'A' ? 'B' : 'A') + alice.token.slice(1)
    for (const token of [forged, flipped, 'x'.repeat(43), 'not a token', '']) {
      const c = chatClients(nc, token)
      t.equal(await code(c.user.whoami({})), 'UNAUTHENTICATED', `user.whoami with ${JSON.stringify(token.slice(0, 8))}…`)
      t.equal(await code(c.friend.list({})), 'UNAUTHENTICATED', 'friend.list')
      t.equal(await code(c.group.mine({})), 'UNAUTHENTICATED', 'group.mine')
      t.equal(await code(c.message.offline({})), 'UNAUTHENTICATED', 'message.offline')
      t.equal(await code(c.message.send({ to: 'bob', text: 'spoofed' })), 'UNAUTHENTICATED', 'message.send')
      t.equal(await code(c.admin.stats({})), 'UNAUTHENTICATED', 'admin.stats')
    }
    t.equal(await code(anon.user.verify({ token: forged })), 'UNAUTHENTICATED', 'verify of a forged token')
    t.equal(await code(anon.message.send({ to: 'bob', text: 'no token' })), 'UNAUTHENTICATED', 'no Authorization header at all')
    t.same(await alice.user.whoami({}), { userId: alice.userId, username: 'alice', role: 'user' }, 'the real token still works')
  })

  t.test('user - after logout the token stops working (modules trust it at most 2 s longer)', async (t) => {
    const s1 = await logIn(nc, 'dave', dave.password)
    const s2 = await logIn(nc, 'dave', dave.password)
    t.same(await s1.friend.list({}), [], 'works before logout (and is now in the friend worker cache)')
    t.same(await s1.message.offline({}), [])
    await s1.user.logout({})
    const loggedOut = Date.now()
    t.equal(await code(s1.user.whoami({})), 'UNAUTHENTICATED', 'the user module refuses it at once')
    t.equal(await code(anon.user.verify({ token: s1.token })), 'UNAUTHENTICATED')
    let friendGone = -1
    let messageGone = -1
    while (Date.now() - loggedOut < 5_000 && (friendGone < 0 || messageGone < 0)) {
      if (friendGone < 0 && (await code(s1.friend.list({}))) === 'UNAUTHENTICATED') friendGone = Date.now() - loggedOut
      if (messageGone < 0 && (await code(s1.message.offline({}))) === 'UNAUTHENTICATED') messageGone = Date.now() - loggedOut
      await delay(100)
    }
    t.ok(friendGone >= 0 && friendGone <= 3_000, `friend module refuses it within the 2 s cache (${friendGone} ms)`)
    t.ok(messageGone >= 0 && messageGone <= 3_000, `message module refuses it within the 2 s cache (${messageGone} ms)`)
    t.equal(await code(s1.user.logout({})), 'UNAUTHENTICATED', 'a revoked token cannot log out again')
    t.same(await s2.user.whoami({}), { userId: dave.userId, username: 'dave', role: 'user' }, "dave's other session lives on")
    t.same(await s2.friend.list({}), [])
  })

  t.test("message - history {with} covers only the caller's own conversations", async (t) => {
    await alice.message.send({ to: 'bob', text: 'alice->bob: the vault code is 4711' })
    await bob.message.send({ to: 'alice', text: 'bob->alice: got it' })
    await carol.message.send({ to: 'alice', text: 'carol->alice: hi' })
    const ab = (await bob.message.history({ with: 'alice' })).map((m) => m.text)
    t.same(ab, ['bob->alice: got it', 'alice->bob: the vault code is 4711'], 'bob sees his conversation with alice')
    t.same(
      (await alice.message.history({ with: 'bob' })).map((m) => m.text),
      ab,
      'and so does alice',
    )
    const carolWithAlice = await carol.message.history({ with: 'alice' })
    t.same(
      carolWithAlice.map((m) => m.text),
      ['carol->alice: hi'],
      'carol sees only her own messages with alice',
    )
    t.same(await carol.message.history({ with: 'bob' }), [], 'carol sees nothing of bob')
    t.same(await carol.message.history({ with: 'carol' }), [], 'carol with herself: nothing')
    const carolAll = JSON.stringify([await carol.message.offline({}), await carol.message.history({ with: 'alice', limit: 200 })])
    t.notMatch(carolAll, /vault code|got it/, 'no trace of alice<->bob anywhere carol can ask')
    t.same(await dave.message.history({ with: 'alice' }), [], 'dave, who never wrote, sees nothing')
    t.equal(await code(carol.message.history({ with: 'nobody_here' })), 'NOT_FOUND')
  })

  t.test('group - a non-member can neither read nor post', async (t) => {
    const { groupId } = await alice.group.create({ name: 'private club' })
    await bob.group.join({ groupId })
    await alice.message.sendGroup({ groupId, text: 'members only: meet at 8' })
    t.equal((await bob.message.history({ groupId })).length, 1, 'a member reads the history')
    t.same((await bob.group.members({ groupId })).map((m) => m.username).sort(), ['alice', 'bob'])

    t.equal(await code(carol.group.members({ groupId })), 'PERMISSION_DENIED', 'carol cannot list members')
    t.equal(await code(carol.message.history({ groupId })), 'PERMISSION_DENIED', 'carol cannot read the history')
    t.equal(await code(carol.message.sendGroup({ groupId, text: 'let me in' })), 'PERMISSION_DENIED', 'carol cannot post')
    t.same(await carol.group.mine({}), [], 'the group is not among carol’s')
    t.equal(await code(admin.message.history({ groupId })), 'PERMISSION_DENIED', 'not even the admin reads a group it is not in')
    t.equal(await code(carol.message.history({ groupId: 'no-such-group' })), 'NOT_FOUND')
    t.equal((await bob.message.history({ groupId })).length, 1, "carol's refused post was not stored")

    await bob.group.leave({ groupId })
    t.equal(await code(bob.message.history({ groupId })), 'PERMISSION_DENIED', 'after leaving, bob reads no more')
    t.equal(await code(bob.message.sendGroup({ groupId, text: 'still here?' })), 'PERMISSION_DENIED', 'nor posts')
  })

  t.test('group - only the owner kicks', async (t) => {
    const { groupId } = await alice.group.create({ name: 'kick test' })
    await bob.group.join({ groupId })
    await carol.group.join({ groupId })
    t.equal(await code(bob.group.kick({ groupId, username: 'carol' })), 'PERMISSION_DENIED', 'a member cannot kick')
    t.equal(await code(dave.group.kick({ groupId, username: 'carol' })), 'PERMISSION_DENIED', 'a non-member cannot kick')
    t.equal(await code(admin.group.kick({ groupId, username: 'carol' })), 'PERMISSION_DENIED', 'the admin is not the owner')
    t.equal(await code(bob.group.kick({ groupId, username: 'alice' })), 'PERMISSION_DENIED', 'nobody kicks the owner')
    t.same((await alice.group.members({ groupId })).map((m) => m.username).sort(), ['alice', 'bob', 'carol'], 'nobody was removed')
    t.same(await alice.group.kick({ groupId, username: 'carol' }), {}, 'the owner kicks')
    t.equal(await code(carol.group.members({ groupId })), 'PERMISSION_DENIED', 'the kicked member lost access')
    t.equal(await code(carol.message.sendGroup({ groupId, text: 'hey' })), 'PERMISSION_DENIED')
  })

  t.test('admin - only an admin broadcasts or reads the numbers', async (t) => {
    t.same(await admin.user.whoami({}), { userId: admin.userId, username: 'admin', role: 'admin' })
    const broadcasts = () => wire.filter((m) => m.subject === 'chat.broadcast').length
    const before = broadcasts()
    for (const u of [alice, bob, carol]) {
      t.equal(await code(u.admin.broadcast({ text: `from ${u.username}` })), 'PERMISSION_DENIED', `${u.username} cannot broadcast`)
      t.equal(await code(u.admin.stats({})), 'PERMISSION_DENIED', `${u.username} cannot read admin.stats`)
    }
    t.equal(await code(alice.user.stats({})), 'PERMISSION_DENIED', 'nor user.stats directly')
    t.equal(await code(alice.group.stats({})), 'PERMISSION_DENIED', 'nor group.stats')
    t.equal(await code(alice.message.stats({})), 'PERMISSION_DENIED', 'nor message.stats')
    await tapNc.flush()
    t.equal(broadcasts(), before, 'no refused broadcast reached chat.broadcast')

    const stats = await admin.admin.stats({})
    t.equal(stats.users, 5, 'the admin reads the numbers: alice, bob, carol, dave and admin')
    t.ok(stats.messages >= 4 && stats.groups >= 2)
    await admin.admin.broadcast({ text: 'maintenance at noon' })
    await tapNc.flush()
    t.equal(broadcasts(), before + 1, 'the admin broadcast went out')
  })

  t.test('user - nobody becomes admin by calling', async (t) => {
    t.equal(await code(anon.user.register({ username: 'admin', password: secret('admin-grab') })), 'USERNAME_TAKEN')
    t.equal(await code(anon.user.login({ username: 'admin', password: secret('admin-guess') })), 'BAD_CREDENTIALS')
    for (const name of ['admin_', 'administrator', 'admin2', 'root', 'sysadmin', 'superuser']) {
      const u = await newUser(nc, name)
      t.equal((await u.user.whoami({})).role, 'user', `${name} is a plain user`)
      t.equal(await code(u.admin.stats({})), 'PERMISSION_DENIED')
    }
    // Straight to the wire, past the typed client: an extra `role` field must be ignored.
    const password = secret('mallory')
    const raw = await nc.request('rpc.user.register', encodeBody({ username: 'mallory', password, role: 'admin' }), { timeout: 5_000 })
    const reply = decodeBody(raw.data) as { status: string }
    if (reply.status === 'OK') {
      const mallory = await logIn(nc, 'mallory', password)
      t.equal((await mallory.user.whoami({})).role, 'user', "a 'role' field in register is ignored")
      t.equal(await code(mallory.admin.broadcast({ text: 'pwned' })), 'PERMISSION_DENIED')
    } else {
      t.equal(reply.status, 'INVALID_ARGUMENT', 'or refused outright')
    }
    // The session carries the role the user module gave it; a raw verify tells the truth.
    t.equal((await anon.user.verify({ token: alice.token })).role, 'user')
  })

  t.test('user - login attempts per username are rate-limited', async (t) => {
    const erin = await newUser(nc, 'erin')
    for (let i = 1; i <= LOGIN_FAILURES; i++) {
      t.equal(await code(anon.user.login({ username: 'erin', password: secret(`erin-wrong${i}`) })), 'BAD_CREDENTIALS', `failure ${i}`)
    }
    t.equal(await code(anon.user.login({ username: 'erin', password: secret('erin-wrong-more') })), 'RESOURCE_EXHAUSTED', 'past the limit')
    t.equal(await code(anon.user.login({ username: 'erin', password: erin.password })), 'RESOURCE_EXHAUSTED', 'even the right password waits')
    t.same(await erin.user.whoami({}), { userId: erin.userId, username: 'erin', role: 'user' }, 'existing sessions are not touched')
    t.equal((await logIn(nc, 'alice', alice.password)).userId, alice.userId, 'other usernames are not affected')
    for (let i = 1; i <= LOGIN_FAILURES; i++) await code(anon.user.login({ username: 'ghost_user', password: secret(`ghost${i}`) }))
    t.equal(
      await code(anon.user.login({ username: 'ghost_user', password: secret('ghost') })),
      'RESOURCE_EXHAUSTED',
      'unknown names are limited the same (no enumeration)',
    )

    // A success before the limit clears the count.
    const frank = await newUser(nc, 'frank')
    for (let i = 1; i < LOGIN_FAILURES; i++) await code(anon.user.login({ username: 'frank', password: secret(`frank${i}`) }))
    await logIn(nc, 'frank', frank.password)
    t.equal(await code(anon.user.login({ username: 'frank', password: secret('frank-again') })), 'BAD_CREDENTIALS', 'a success resets the count')
  })

  t.test('user - concurrent wrong logins do not get past the limit', async (t) => {
    await newUser(nc, 'gina')
    const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => code(anon.user.login({ username: 'gina', password: secret(`gina${i}`) }))))
    const tried = burst.filter((c) => c === 'BAD_CREDENTIALS').length
    t.ok(tried <= LOGIN_FAILURES, `at most ${LOGIN_FAILURES} of 12 parallel guesses were checked (${tried} were: ${burst.join(' ')})`)
    t.ok(
      burst.every((c) => c === 'BAD_CREDENTIALS' || c === 'RESOURCE_EXHAUSTED'),
      'every guess is refused',
    )
  })

  t.test('user - bad register and login inputs do not echo the password', async (t) => {
    const long = `${secret('too-long')}${'x'.repeat(300)}`
    for (const body of [
      { username: 'Not Valid', password: secret('bad-name') },
      { username: 'henry', password: long },
      { username: 'henry', password: secret('extra'), extra: secret('extra-field') },
    ]) {
      for (const method of ['register', 'login']) {
        const reply = await nc.request(`rpc.user.${method}`, encodeBody(body), { timeout: 5_000 })
        t.same(leaks(reply.data), [], `${method} ${JSON.stringify(Object.keys(body))}: ${(decodeBody(reply.data) as { status: string }).status}`)
        t.same(leaks(JSON.stringify(reply.headers ? [...reply.headers.keys()].map((k) => reply.headers!.get(k)) : [])), [], 'nor its headers')
      }
    }
  })

  t.test('user - passwords never appear in clear: wire, worker output, KV', async (t) => {
    await tapNc.flush()
    t.ok(wire.length > 100, `the tap saw the traffic (${wire.length} messages)`)
    const carrying = wire.filter((m) => leaks(m.data).length > 0)
    t.ok(carrying.length > 0, 'control: the tap does see passwords in register/login requests')
    t.same(
      carrying.filter((m) => !carriesPassword(m.subject)).map((m) => `${m.subject}: ${leaks(m.data).join(',')}`),
      [],
      'no reply, event, KV write, stream write or nested call carries a password',
    )

    for (const p of workersOf(system)) t.same(leaks(p.output()), [], `${p.name} printed no password`)

    const kvm = new Kvm(nc)
    const buckets: string[] = []
    for await (const s of kvm.list()) buckets.push(s.bucket)
    t.ok(buckets.includes('sb_accounts') && buckets.includes('sb_sessions'), `read buckets ${buckets.join(', ')}`)
    let values = 0
    let hashes = 0
    for (const bucket of buckets) {
      const kv = await kvm.open(bucket)
      const keys: string[] = []
      for await (const k of await kv.keys()) keys.push(k)
      for (const key of keys) {
        t.same(leaks(key), [], `${bucket} key ${key}`)
        const e = await kv.get(key)
        if (e === null) continue
        values++
        if (Buffer.from(e.value).includes('scrypt$')) hashes++
        const l = leaks(e.value)
        if (l.length > 0) t.fail(`${bucket}/${key} holds ${l.join(', ')}`)
      }
    }
    t.ok(values > 20, `read ${values} KV values`)
    t.ok(hashes >= 10, `control: the accounts hold salted scrypt hashes (${hashes})`)
    const tokens = [alice.token, bob.token, carol.token, admin.token]
    const sessionsKv = await kvm.open('sb_sessions')
    for await (const k of await sessionsKv.keys()) {
      const e = await sessionsKv.get(k)
      const raw = Buffer.from(e?.value ?? new Uint8Array()).toString('latin1') + k
      t.notOk(
        tokens.some((tk) => raw.includes(tk)),
        `session ${k} holds no usable token`,
      )
    }
  })
})

t.test('app security - short sessions and no configured admin (second server)', async (t) => {
  const server = await serverFor(t)
  const TTL = 1_500
  const WINDOW = 1_500
  const system = await startSystem(t, {
    natsUrl: server.url,
    modules: ['user', 'friend'],
    env: { SWITCHBOARD_TOKEN_TTL_MS: String(TTL), SWITCHBOARD_LOGIN_FAILURES: '2', SWITCHBOARD_LOGIN_WINDOW_MS: String(WINDOW), LOG_LEVEL: 'debug' },
  })
  const nc = await connectFor(t, server.url)
  const anon = chatClients(nc)

  t.test('user - an expired token is UNAUTHENTICATED', async (t) => {
    const password = secret('ivy')
    await anon.user.register({ username: 'ivy', password })
    const before = Date.now()
    const { token, expiresAt } = await anon.user.login({ username: 'ivy', password })
    t.ok(expiresAt >= before + TTL && expiresAt <= Date.now() + TTL, 'expiresAt is login time + SWITCHBOARD_TOKEN_TTL_MS')
    const ivy = chatClients(nc, token)
    t.equal((await ivy.user.whoami({})).username, 'ivy', 'valid before expiry')
    t.same(await ivy.friend.list({}), [])
    await delay(Math.max(0, expiresAt - Date.now()) + 50)
    t.equal(await code(ivy.user.whoami({})), 'UNAUTHENTICATED', 'the user module refuses it once expired')
    t.equal(await code(anon.user.verify({ token })), 'UNAUTHENTICATED')
    let gone = -1
    while (Date.now() - expiresAt < 5_000 && gone < 0) {
      if ((await code(ivy.friend.list({}))) === 'UNAUTHENTICATED') gone = Date.now() - expiresAt
      else await delay(100)
    }
    t.ok(gone >= 0 && gone <= 3_000, `the friend module refuses it within the 2 s cache (${gone} ms after expiry)`)
  })

  t.test("user - registering 'admin' where no admin is configured gives a plain user", async (t) => {
    const password = secret('fake-admin')
    await anon.user.register({ username: 'admin', password })
    const me = await logIn(nc, 'admin', password)
    t.equal((await me.user.whoami({})).role, 'user')
    t.equal(await code(me.user.stats({})), 'PERMISSION_DENIED')
  })

  t.test('user - the login limit lifts after its window', async (t) => {
    const password = secret('jack')
    await anon.user.register({ username: 'jack', password })
    for (let i = 0; i < 2; i++) t.equal(await code(anon.user.login({ username: 'jack', password: secret(`jack${i}`) })), 'BAD_CREDENTIALS')
    t.equal(await code(anon.user.login({ username: 'jack', password })), 'RESOURCE_EXHAUSTED', 'locked')
    await delay(WINDOW + 200)
    t.equal((await anon.user.login({ username: 'jack', password })).userId.length > 0, true, 'open again after the window')
  })

  t.test('user - no password in the output of these workers either', async (t) => {
    for (const p of workersOf(system)) t.same(leaks(p.output()), [], `${p.name} printed no password`)
  })
})
