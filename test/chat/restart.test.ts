import t from 'tap'
import { RpcError, silentLogger } from 'switchboard'
import { MODULE_NAMES, MODULES } from '../../services/registry.ts'
import { connectFor, delay, serverFor } from '../harness/index.ts'
import { chatClients, logIn, signUp } from '../harness/system.ts'

t.test('chat state - a restart of nats-server loses no user, session, friendship, group or message', async (t) => {
  const server = await serverFor(t)
  const opts = { maxReconnectAttempts: -1, reconnectTimeWait: 100 }
  const workerNc = await connectFor(t, server.url, opts)
  const nc = await connectFor(t, server.url, opts)
  for (const name of MODULE_NAMES) {
    const w = await MODULES[name].start(workerNc, { logger: silentLogger, adminPassword: 'admin-password-1' })
    t.teardown(() => w.stop())
  }
  const a = await signUp(nc, 'alice')
  const b = await signUp(nc, 'bob')
  await a.friend.add({ username: 'bob' })
  const { groupId } = await a.group.create({ name: 'keepers' })
  await b.group.join({ groupId })
  const direct = await a.message.send({ to: 'bob', text: 'kept across restarts' })
  const grouped = await a.message.sendGroup({ groupId, text: 'group, kept too' })

  await server.restart()
  const until = Date.now() + 15_000
  for (;;) {
    try {
      await chatClients(nc).user.lookup({ username: 'alice' })
      break
    } catch (err) {
      if (!(err instanceof RpcError) || Date.now() > until) throw err
      await delay(100)
    }
  }

  t.same(await b.user.whoami({}), { userId: b.userId, username: 'bob', role: 'user' }, 'sessions survive')
  const again = await logIn(nc, 'alice')
  t.equal(again.userId, a.userId, 'the account and its password survive')
  t.same(
    (await again.friend.list({})).map((p) => p.username),
    ['bob'],
  )
  t.same(
    (await b.friend.list({})).map((p) => p.username),
    ['alice'],
  )
  t.same(
    (await b.group.members({ groupId })).map((p) => p.username),
    ['alice', 'bob'],
  )
  t.same(await b.group.mine({}), [{ groupId, name: 'keepers', unread: 1 }], 'with the group message unread')
  t.same(
    (await b.message.offline({})).map((m) => m.messageId),
    [direct.messageId, grouped.messageId],
    'the offline inbox survives',
  )
  t.same(
    (await b.message.history({ with: 'alice' })).map((m) => m.text),
    ['kept across restarts'],
  )
  t.same(
    (await b.message.history({ groupId })).map((m) => m.text),
    ['group, kept too'],
  )
  const admin = await logIn(nc, 'admin', 'admin-password-1')
  t.match(await admin.admin.stats({}), { users: 3, groups: 1, messages: 2 })
})
