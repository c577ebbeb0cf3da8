import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { WebSocket } from 'ws'
import { decodeBody } from 'switchboard'
import { CallError, GatewayConnection, type PushEvent } from '../../services/chat-client/connection.ts'
import { startGateway, type Gateway } from '../../services/gateway/gateway.ts'
import { CALLABLE, CHAT_CONTRACTS, INTERNAL_METHODS } from '../../services/gateway/methods.ts'
import { connectFor, delay, failureOf, serverFor } from '../harness/index.ts'
import { chatClients, ROOT, startSystem } from '../harness/system.ts'
import { parseLine } from '../../services/chat-client/commands.ts'

const ADMIN_PASSWORD = 'gateway-test-admin-pw'
const suffix = () => randomBytes(3).toString('hex')

const fails = (p: Promise<unknown>) => failureOf(p, CallError)

/** Sends raw frames on a plain socket and collects every frame the gateway sends back. */
async function rawSocket(url: string) {
  const ws = new WebSocket(url)
  const frames: Record<string, unknown>[] = []
  const waiters: (() => void)[] = []
  ws.on('message', (d) => {
    frames.push(JSON.parse(String(d)))
    for (const w of waiters.splice(0)) w()
  })
  await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)))
  const next = async (): Promise<Record<string, unknown>> => {
    const until = Date.now() + 5_000
    while (frames.length === 0) {
      if (Date.now() > until) throw new Error('no frame within 5 s')
      await Promise.race([new Promise<void>((r) => waiters.push(r)), delay(100)])
    }
    return frames.shift()!
  }
  return { ws, next }
}

t.test('gateway - against real module workers', async (t) => {
  const server = await serverFor(t)
  await startSystem(t, { natsUrl: server.url, env: { SWITCHBOARD_ADMIN_PASSWORD: ADMIN_PASSWORD } })
  const gwNc = await connectFor(t, server.url)
  const gw2Nc = await connectFor(t, server.url)
  const nc = await connectFor(t, server.url)
  const gw: Gateway = await startGateway(gwNc, gwNc, { port: 0, maxFrameBytes: 4_096 })
  const gw2: Gateway = await startGateway(gw2Nc, gw2Nc, { port: 0 })
  t.teardown(() => Promise.all([gw.close(), gw2.close()]))

  const open = async (g: Gateway = gw) => {
    const c = await GatewayConnection.open(g.url, { timeout: 8_000 })
    t.teardown(() => c.close())
    await c.waitForEvent((e) => e.event === 'hello')
    return c
  }
  const account = async (name: string, g: Gateway = gw) => {
    const username = `${name}_${suffix()}`
    const password = `${name}-password`
    const conn = await open(g)
    const { userId } = await conn.call<{ userId: string }>('user.register', { username, password })
    return { username, password, userId, conn }
  }
  const login = async (a: { username: string; password: string }, conn: GatewayConnection) =>
    conn.call<{ token: string; userId: string }>('user.login', { username: a.username, password: a.password })
  const messageEvent = (messageId: string) => (e: PushEvent) => (e.message as { messageId?: string } | undefined)?.messageId === messageId

  t.test('gateway - every contract method is either callable or internal', async (t) => {
    for (const c of CHAT_CONTRACTS) {
      for (const m of Object.keys(c.methods)) {
        const name = `${c.name}.${m}`
        t.ok(CALLABLE.has(name) !== INTERNAL_METHODS.has(name), `${name} is exactly one of callable/internal`)
      }
    }
  })

  t.test('gateway - two users register, log in, befriend and message both ways in real time', async (t) => {
    const alice = await account('alice')
    const bob = await account('bob')
    await login(alice, alice.conn)
    await login(bob, bob.conn)
    t.same(await alice.conn.call('friend.add', { username: bob.username }), {})
    const friends = await bob.conn.call<{ username: string; online: boolean }[]>('friend.list', {})
    t.same(
      friends.map((f) => [f.username, f.online]),
      [[alice.username, true]],
    )

    const sent = await alice.conn.call<{ messageId: string; delivered: boolean }>('message.send', { to: bob.username, text: 'hi bob' })
    t.equal(sent.delivered, true)
    const got = await bob.conn.waitForEvent(messageEvent(sent.messageId))
    t.match(got, { event: 'message', message: { kind: 'direct', from: alice.username, to: bob.username, text: 'hi bob' } })

    const back = await bob.conn.call<{ messageId: string; delivered: boolean }>('message.send', { to: alice.username, text: 'hi alice ✓' })
    t.equal(back.delivered, true)
    t.match(await alice.conn.waitForEvent(messageEvent(back.messageId)), { event: 'message', message: { from: bob.username, text: 'hi alice ✓' } })
    const history = await alice.conn.call<{ text: string }[]>('message.history', { with: bob.username })
    t.same(
      history.map((m) => m.text),
      ['hi alice ✓', 'hi bob'],
    )
  })

  t.test('gateway - a message sent while offline arrives at login through message.offline, once', async (t) => {
    const carol = await account('carol')
    const dave = await account('dave')
    await login(carol, carol.conn)
    const sent = await carol.conn.call<{ messageId: string; delivered: boolean }>('message.send', { to: dave.username, text: 'while you were out' })
    t.equal(sent.delivered, false)
    await login(dave, dave.conn)
    const offline = await dave.conn.call<{ messageId: string; text: string }[]>('message.offline', {})
    t.same(
      offline.map((m) => [m.messageId, m.text]),
      [[sent.messageId, 'while you were out']],
    )
    t.same(await dave.conn.call('message.offline', {}), [])
    t.same(
      dave.conn.events((e) => e.event === 'message'),
      [],
      'not pushed as well',
    )
  })

  t.test('gateway - group messages reach members; others get PERMISSION_DENIED', async (t) => {
    const owner = await account('owner')
    const member = await account('member')
    const outsider = await account('outsider')
    for (const a of [owner, member, outsider]) await login(a, a.conn)
    const { groupId } = await owner.conn.call<{ groupId: string }>('group.create', { name: 'team' })
    await member.conn.call('group.join', { groupId })
    const sent = await member.conn.call<{ messageId: string; delivered: number }>('message.sendGroup', { groupId, text: 'hello team' })
    t.match(await owner.conn.waitForEvent(messageEvent(sent.messageId)), { message: { kind: 'group', groupId, from: member.username } })
    const err = await fails(outsider.conn.call('message.sendGroup', { groupId, text: 'let me in' }))
    t.match(err, { code: 'PERMISSION_DENIED', status: 403 })
    t.match(await fails(outsider.conn.call('group.members', { groupId })), { code: 'PERMISSION_DENIED' })
  })

  t.test('gateway - a user with sessions on two gateways gets each message on every session exactly once', async (t) => {
    const sender = await account('sender')
    const multi = await account('multi')
    const second = await open(gw)
    const third = await open(gw2)
    await login(sender, sender.conn)
    for (const c of [multi.conn, second, third]) await login(multi, c)

    const ids: string[] = []
    for (let i = 0; i < 3; i++) ids.push((await sender.conn.call<{ messageId: string }>('message.send', { to: multi.username, text: `m${i}` })).messageId)
    // the same send retried (the same Rpc-Id, so the same message, stored once) must not be pushed twice
    const token = (await sender.conn.call<{ token: string }>('user.login', { username: sender.username, password: sender.password })).token
    const retried = chatClients(nc, token)
    const first = await retried.message.send({ to: multi.username, text: 'once' }, { id: 'retry-1' })
    const second2 = await retried.message.send({ to: multi.username, text: 'once' }, { id: 'retry-1' })
    t.equal(second2.messageId, first.messageId, 'a retry is the same message')
    t.equal(second2.pos, first.pos, 'at the same position')
    ids.push(first.messageId)
    const replies = await nc.requestMany(`chat.presence.${multi.userId}`, undefined, { maxWait: 500, maxMessages: 2 })
    const counts: number[] = []
    for await (const r of replies) counts.push((decodeBody(r.data) as { sessions: number }).sessions)
    t.same(counts.sort(), [1, 2], 'both gateways answer with their session counts')

    for (const c of [multi.conn, second, third]) {
      for (const id of ids) await c.waitForEvent(messageEvent(id))
    }
    await delay(200)
    for (const c of [multi.conn, second, third])
      t.same(
        c.events((e) => e.event === 'message'),
        [],
        'no duplicates left over',
      )
    t.same(await multi.conn.call('message.offline', {}), [])
  })

  t.test('gateway - presence and online follow login, logout and close', async (t) => {
    const eve = await account('eve')
    await login(eve, eve.conn)
    const online = await nc.requestMany('chat.online', undefined, { maxWait: 500, maxMessages: 2 })
    const ids: string[] = []
    for await (const r of online) ids.push(...(decodeBody(r.data) as { userIds: string[] }).userIds)
    t.ok(ids.includes(eve.userId))
    await eve.conn.call('user.logout', {})
    await t.rejects(nc.request(`chat.presence.${eve.userId}`, undefined, { timeout: 1_000 }), 'nobody answers after logout')
    t.match(await fails(eve.conn.call('friend.list', {})), { code: 'UNAUTHENTICATED', status: 401 })
    await login(eve, eve.conn)
    await nc.request(`chat.presence.${eve.userId}`, undefined, { timeout: 1_000 })
    await eve.conn.close()
    await delay(100)
    await t.rejects(nc.request(`chat.presence.${eve.userId}`, undefined, { timeout: 1_000 }), 'nobody answers after close')
  })

  t.test('gateway - session.resume attaches a new socket to a token', async (t) => {
    const fay = await account('fay')
    const { token, userId } = await login(fay, fay.conn)
    const other = await open(gw2)
    t.match(await other.call('session.resume', { token }), { userId, username: fay.username })
    t.match(await fails(other.call('session.resume', { token: 'nope' })), { code: 'UNAUTHENTICATED' })
  })

  t.test('gateway - admin broadcast reaches every logged-in session on every gateway', async (t) => {
    const admin = await open(gw)
    await admin.call('user.login', { username: 'admin', password: ADMIN_PASSWORD })
    const u1 = await account('listener1')
    const u2 = await account('listener2', gw2)
    await login(u1, u1.conn)
    await login(u2, u2.conn)
    const { delivered } = await admin.call<{ delivered: number }>('admin.broadcast', { text: 'maintenance at five' })
    t.ok(delivered >= 3, `delivered to ${delivered} sessions`)
    for (const c of [u1.conn, u2.conn])
      t.match(await c.waitForEvent((e) => e.event === 'broadcast'), { message: { kind: 'broadcast', text: 'maintenance at five' } })
    t.match(await fails(u1.conn.call('admin.broadcast', { text: 'me too' })), { code: 'PERMISSION_DENIED' })
  })

  t.test('gateway - error statuses of modules come through as error frames', async (t) => {
    const gus = await account('gus')
    t.match(await fails(gus.conn.call('user.login', { username: gus.username, password: 'wrong-password' })), { code: 'BAD_CREDENTIALS', status: 401 })
    t.match(await fails(gus.conn.call('user.register', { username: gus.username, password: 'another-pw' })), { code: 'USERNAME_TAKEN', status: 409 })
    await login(gus, gus.conn)
    t.match(await fails(gus.conn.call('friend.add', { username: `nobody_${suffix()}` })), { code: 'NOT_FOUND', status: 404 })
    t.match(await fails(gus.conn.call('message.send', { to: 'Bad Name!', text: 'x' })), { code: 'INVALID_ARGUMENT', data: { issues: [{ path: '/to' }] } })
  })

  t.test('gateway - bad frames get error frames and never break the socket or the gateway', async (t) => {
    const { ws, next } = await rawSocket(gw.url)
    t.match(await next(), { event: 'hello', protocol: 2 })
    const cases: [string | Buffer, RegExp, string][] = [
      ['{nope', /INVALID_ARGUMENT/, 'not JSON'],
      ['[1,2]', /INVALID_ARGUMENT/, 'not an object'],
      ['{"call":"user.whoami"}', /INVALID_ARGUMENT/, 'no id'],
      ['{"id":{"a":1},"call":"user.whoami"}', /INVALID_ARGUMENT/, 'object id'],
      ['{"id":1,"call":"whoami"}', /INVALID_ARGUMENT/, 'call without a service'],
      ['{"id":2,"call":"user.verify","input":{"token":"x"}}', /UNIMPLEMENTED/, 'internal method'],
      ['{"id":3,"call":"nothing.here"}', /UNIMPLEMENTED/, 'unknown call'],
      ['{"id":4,"call":"friend.list","input":{}}', /UNAUTHENTICATED/, 'auth call before login'],
      ['{"id":5,"call":"user.register","input":"text"}', /INVALID_ARGUMENT/, 'input of the wrong type'],
      [JSON.stringify({ id: 6, call: 'user.register', input: { username: 'x'.repeat(5_000) } }), /RESOURCE_EXHAUSTED/, 'frame over maxFrameBytes'],
      [Buffer.from([1, 2, 3]), /INVALID_ARGUMENT/, 'binary frame'],
    ]
    for (const [frame, code, what] of cases) {
      ws.send(frame, { binary: Buffer.isBuffer(frame) })
      const reply = await next()
      t.equal(reply.ok, false, what)
      t.match((reply.error as { code: string }).code, code, what)
    }
    ws.send('{"id":"last","call":"user.login","input":{"username":"nobody_here","password":"whatever-pw"}}')
    t.match(await next(), { id: 'last', ok: false, error: { code: 'BAD_CREDENTIALS' } }, 'the socket still works')
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)))
    ws.send(Buffer.alloc(2 * 1024 * 1024, 0x20))
    t.equal(await closed, 1009, 'a frame over the hard limit closes the socket')
    const fresh = await open(gw)
    t.match(await fails(fresh.call('user.login', { username: 'nobody_here', password: 'whatever-pw' })), { code: 'BAD_CREDENTIALS' }, 'the gateway still works')
  })

  t.test('chat-client - the terminal client runs typed commands in order and shows incoming messages', async (t) => {
    const friend = await account('pal')
    await login(friend, friend.conn)
    const me = `term_${suffix()}`
    const env: NodeJS.ProcessEnv = { ...process.env, GATEWAY_URL: gw.url }
    delete env.NODE_OPTIONS
    const child = spawn(process.execPath, ['--import', 'tsx', 'services/chat-client/main.ts'], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] })
    t.teardown(() => void child.kill('SIGKILL'))
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (out += d.toString()))
    const waitOut = async (re: RegExp) => {
      const until = Date.now() + 15_000
      while (!re.test(out)) {
        if (Date.now() > until) throw new Error(`no ${re} in:\n${out}`)
        await delay(50)
      }
    }
    child.stdin.write(`/register ${me} term-password\n/login ${me} term-password\n/msg ${friend.username} hello from the terminal\n/bogus\n/add\n`)
    await waitOut(/usage: \/add <username>/)
    t.match(out, new RegExp(`registered ${me}[\\s\\S]*logged in as ${me}[\\s\\S]*sent to ${friend.username}[\\s\\S]*unknown command /bogus`))
    t.match((await friend.conn.waitForEvent((e) => e.event === 'message')).message, { from: me, text: 'hello from the terminal' })
    await friend.conn.call('message.send', { to: me, text: 'right back at you' })
    await waitOut(new RegExp(`${friend.username} -> ${me}: right back at you`))
    child.stdin.end('/quit\n')
    t.equal(await new Promise((r) => child.once('exit', r)), 0)
    t.same(parseLine('  /MSG bob  hi there '), { kind: 'command', name: 'msg', args: ['bob', 'hi', 'there'], rest: 'bob  hi there' })
    t.same(parseLine('plain words'), { kind: 'text', text: 'plain words' })
  })

  t.test('gateway - close() ends sockets with 1001 and stops answering for its users', async (t) => {
    const g = await startGateway(gw2Nc, gw2Nc, { port: 0 })
    const c = await GatewayConnection.open(g.url)
    const hal = { username: `hal_${suffix()}`, password: 'hal-password' }
    const { userId } = await c.call<{ userId: string }>('user.register', hal)
    await c.call('user.login', hal)
    const code = new Promise<number>((r) => c.socket.once('close', (n) => r(n)))
    await g.close()
    t.equal(await code, 1001)
    await t.rejects(nc.request(`chat.presence.${userId}`, undefined, { timeout: 500 }))
    const http = await fetch(`http://127.0.0.1:${gw.port}/no-such-page`)
    t.equal(http.status, 404, 'unknown HTTP paths get a 404')
  })
})
