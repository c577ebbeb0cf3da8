import { type NatsConnection, nkeyAuthenticator, nkeys } from '@nats-io/nats-core'
import t from 'tap'
import Type from 'typebox'
import { client, defineService, serve } from 'switchboard'
import { delay, serverFor, statusOf } from '../harness/index.ts'
import { confSecurity, connectAs, type ConfRole } from '../fixtures/nats-conf.ts'

/** Stand-ins for two modules' contracts: what matters here is the subjects rpc.user.* and rpc.friend.*. */
const UserLike = defineService('user', { version: '1.0.0', methods: { ping: { input: Type.Object({}), output: Type.Object({ by: Type.String() }) } } })
const FriendLike = defineService('friend', { version: '1.0.0', methods: { ping: { input: Type.Object({}), output: Type.Object({ by: Type.String() }) } } })

/** The permission violations the server reported to `nc`, as they arrive. */
function violations(nc: NatsConnection): string[] {
  const seen: string[] = []
  void (async () => {
    for await (const s of nc.status()) if (s.type === 'error') seen.push(String((s as { error?: unknown }).error))
  })()
  return seen
}

const code = statusOf

t.test('nats.conf - roles and permissions', async (t) => {
  const server = await serverFor(t, { jetstream: false, extra: confSecurity() })
  const conns = new Map<ConfRole, NatsConnection>()
  const as = async (role: ConfRole) => {
    const nc = await connectAs(server.url, role)
    t.teardown(() => nc.close())
    conns.set(role, nc)
    return nc
  }
  const userNc = await as('user')
  const clientNc = await as('client')
  const gatewayNc = await as('gateway')
  const adminNc = await as('admin')
  const userErrors = violations(userNc)
  const clientErrors = violations(clientNc)
  const gatewayErrors = violations(gatewayNc)

  const worker = await serve(userNc, UserLike, { ping: () => ({ by: 'user-module' }) })
  t.teardown(() => worker.stop())

  t.test('nats.conf - a wrong key is refused, and so is a password', async (t) => {
    const stranger = nkeyAuthenticator(nkeys.createUser().getSeed())
    await t.rejects(connectAs(server.url, 'user', { authenticator: stranger, maxReconnectAttempts: 0, reconnect: false }), /Authorization/i)
    const passwordOnly = { authenticator: undefined, user: 'user', pass: 'user-dev-pw', maxReconnectAttempts: 0, reconnect: false }
    await t.rejects(connectAs(server.url, 'user', passwordOnly), /Authorization/i, 'the old dev password no longer logs in')
  })

  t.test('nats.conf - a module serves its own rpc subjects; gateway and client call them', async (t) => {
    t.same(await client(gatewayNc, UserLike).ping({}), { by: 'user-module' })
    t.same(await client(clientNc, UserLike).ping({}), { by: 'user-module' })
  })

  t.test('nats.conf - a client credential cannot subscribe to rpc.user.> (cannot impersonate a service)', async (t) => {
    for (const subject of ['rpc.user.>', 'rpc.user.ping', 'rpc.>', '>']) {
      const sub = clientNc.subscribe(subject, { queue: 'user' })
      const err = await sub.closed
      t.match(String(err), /Permissions Violation for Subscription/, `${subject} refused`)
    }
    // The real user worker still gets every call.
    for (let i = 0; i < 20; i++) t.same(await client(clientNc, UserLike).ping({}), { by: 'user-module' })
  })

  t.test("nats.conf - a module's credentials cannot serve another module's subjects", async (t) => {
    const before = userErrors.length
    await t.rejects(serve(userNc, FriendLike, { ping: () => ({ by: 'impostor' }) }), /friend worker cannot subscribe to rpc\.friend\.ping/)
    await delay(100)
    t.match(userErrors.slice(before).join('\n'), /Permissions Violation for Subscription to "rpc\.friend\./)
    t.equal(await code(client(clientNc, FriendLike, { timeout: 500 }).ping({})), 'UNAVAILABLE', 'nobody answers rpc.friend.ping')
  })

  t.test("nats.conf - a client cannot read another connection's replies", async (t) => {
    for (const subject of ['_INBOX.>', '_INBOX_gateway.>', '_INBOX_user.>', '_INBOX_admin.>']) {
      const sub = clientNc.subscribe(subject)
      t.match(String(await sub.closed), /Permissions Violation for Subscription/, `${subject} refused`)
    }
    // and the gateway's calls keep working, replies arriving only on its own inbox
    t.same(await client(gatewayNc, UserLike).ping({}), { by: 'user-module' })
  })

  t.test('nats.conf - only admin publishes chat.broadcast; a client may not touch JetStream or chat subjects', async (t) => {
    const got: string[] = []
    const sub = gatewayNc.subscribe('chat.broadcast', { callback: (_e, m) => void got.push(new TextDecoder().decode(m.data)) })
    await gatewayNc.flush()
    const before = userErrors.length
    userNc.publish('chat.broadcast', new TextEncoder().encode('from-user'))
    clientNc.publish('chat.broadcast', new TextEncoder().encode('from-client'))
    clientNc.publish('chat.user.u1', new TextEncoder().encode('spoof'))
    clientNc.publish('$JS.API.STREAM.LIST', new Uint8Array())
    adminNc.publish('chat.broadcast', new TextEncoder().encode('from-admin'))
    await Promise.all([userNc.flush(), clientNc.flush(), adminNc.flush()])
    await delay(200)
    sub.unsubscribe()
    t.same(got, ['from-admin'])
    t.match(userErrors.slice(before).join('\n'), /Publish to "chat\.broadcast"/)
    const c = clientErrors.join('\n')
    t.match(c, /Publish to "chat\.broadcast"/)
    t.match(c, /Publish to "chat\.user\.u1"/)
    t.match(c, /Publish to "\$JS\.API\.STREAM\.LIST"/)
  })

  t.test('nats.conf - the gateway touches no JetStream, publishes no message and no chat event', async (t) => {
    const before = gatewayErrors.length
    gatewayNc.publish('$JS.API.CONSUMER.CREATE.KV_sb_sessions', new Uint8Array())
    gatewayNc.publish('$JS.API.STREAM.INFO.SB_MESSAGES', new Uint8Array())
    gatewayNc.publish('msg.dm.a.b', new TextEncoder().encode('forged'))
    gatewayNc.publish('chat.user.u1', new TextEncoder().encode('spoof'))
    await gatewayNc.flush()
    await delay(200)
    const g = gatewayErrors.slice(before).join('\n')
    t.match(g, /Publish to "\$JS\.API\.CONSUMER\.CREATE\.KV_sb_sessions"/, 'no consumer on the sessions bucket')
    t.match(g, /Publish to "\$JS\.API\.STREAM\.INFO\.SB_MESSAGES"/, 'not even the message stream: its tail has a connection of its own')
    t.match(g, /Publish to "msg\.dm\.a\.b"/, 'no forged message into the stream')
    t.match(g, /Publish to "chat\.user\.u1"/, 'no forged typing or read events')
  })

  t.test('nats.conf - gateway-feed reads the message stream and nothing else, and answers no request', async (t) => {
    const feedNc = await as('gateway-feed')
    const feedErrors = violations(feedNc)
    feedNc.publish('$JS.API.STREAM.INFO.SB_MESSAGES', new Uint8Array())
    feedNc.publish('$JS.API.CONSUMER.CREATE.SB_MESSAGES', new Uint8Array())
    feedNc.publish('$JS.API.CONSUMER.CREATE.KV_sb_sessions', new Uint8Array())
    feedNc.publish('rpc.user.ping', new Uint8Array())
    feedNc.publish('msg.dm.a.b', new TextEncoder().encode('forged'))
    // a reply to somebody's request: allowed only to a role with allow_responses, and only to what it was sent
    const request = clientNc.request('chat.presence.u1', undefined, { timeout: 300 }).catch(() => undefined)
    feedNc.publish('_INBOX_client.forged', new Uint8Array())
    feedNc.subscribe('chat.presence.*')
    await feedNc.flush()
    await request
    await delay(200)
    const f = feedErrors.join('\n')
    t.notMatch(f, /"\$JS\.API\.STREAM\.INFO\.SB_MESSAGES"/, 'the stream info of SB_MESSAGES is allowed')
    t.notMatch(f, /"\$JS\.API\.CONSUMER\.CREATE\.SB_MESSAGES"/, 'and a consumer on it')
    t.match(f, /Publish to "\$JS\.API\.CONSUMER\.CREATE\.KV_sb_sessions"/, 'no other stream or bucket')
    t.match(f, /Publish to "rpc\.user\.ping"/, 'no calls')
    t.match(f, /Publish to "msg\.dm\.a\.b"/, 'no forged message into the stream')
    t.match(f, /Publish to "_INBOX_client\.forged"/, "no reply into another role's inbox")
    t.match(f, /Subscription to "chat\.presence\.\*"/, 'and it hears no requests to answer')
  })
})
