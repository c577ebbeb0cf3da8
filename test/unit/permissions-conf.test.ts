import { readFileSync } from 'node:fs'
import t from 'tap'
import { PERMISSIONS_FILE, permissionsConf } from '../../scripts/permissions.ts'
import { MODULES } from '../../services/registry.ts'
import { allPermissions, GATEWAY_FEED_ROLE, modulePermissions, readsRole } from '../../services/shared/permissions.ts'

t.test('permissions - config/permissions.conf is what the module registry derives (npm run permissions)', async (t) => {
  t.equal(readFileSync(PERMISSIONS_FILE, 'utf8'), permissionsConf(), 'regenerate it with npm run permissions')
})

t.test('permissions - a module serves only its own subjects and reads only its own inbox', async (t) => {
  for (const m of Object.values(MODULES)) {
    const p = modulePermissions(m)
    t.same(
      p.subscribe.allow.filter((s) => s.startsWith('rpc.')),
      [`rpc.${m.name}.>`],
      `${m.name} serves rpc.${m.name}.> only`,
    )
    t.same(
      p.subscribe.allow.filter((s) => s.startsWith('_INBOX')),
      [`_INBOX_${m.name}.>`],
      `${m.name} reads its own inbox only`,
    )
    t.equal(p.publish.deny === undefined, m.nats.broadcast === true, `${m.name} may broadcast only when its module says so`)
  }
  t.same(
    Object.values(MODULES)
      .filter((m) => m.nats.broadcast === true)
      .map((m) => m.name),
    ['admin'],
    'admin alone publishes chat.broadcast and chat.online',
  )
  t.same(
    Object.values(MODULES)
      .filter((m) => modulePermissions(m).publish.allow.includes('msg.>'))
      .map((m) => m.name),
    ['message'],
    'message alone publishes to its stream subjects',
  )
})

t.test('permissions - the roles that read a stream through consumers may not answer requests', async (t) => {
  // nats-server keeps every reply subject it delivers to a connection that may answer (up to 2 min) and scans
  // the list on each delivery past 4,096: a consumer's ack subjects, never answered, would fill it at the stream's rate
  const roles = new Map(allPermissions(Object.values(MODULES)))
  const feed = roles.get(GATEWAY_FEED_ROLE)!
  t.equal(feed.allowResponses, false, 'gateway-feed has no allow_responses')
  t.ok(feed.publish.allow.includes('$JS.API.CONSUMER.CREATE.SB_MESSAGES'), 'gateway-feed creates its consumers on the message stream')
  const pullers = [...roles].filter(([, p]) => p.publish.allow.some((s) => s.startsWith('$JS.API.CONSUMER.MSG.NEXT'))).map(([r]) => r)
  t.same(
    pullers.sort(),
    [GATEWAY_FEED_ROLE, readsRole(MODULES.message)].sort(),
    'of the roles without the whole JetStream API, gateway-feed and message-reads pull',
  )
  t.ok(
    pullers.every((r) => roles.get(r)!.allowResponses === false),
    'and neither may answer requests',
  )
  t.same(
    Object.values(MODULES)
      .filter((m) => m.nats.reads !== undefined)
      .map((m) => [m.name, m.nats.reads!.stream]),
    [['message', 'SB_MESSAGES']],
    'the message module reads its stream on a second connection',
  )
  t.same(roles.get('message-reads')!.subscribe.allow, ['_INBOX_message-reads.>'], 'which hears nothing but its own inbox')
  t.notOk(
    roles.get('gateway')!.publish.allow.some((s) => s.startsWith('$JS')),
    'the gateway role, which answers presence requests, touches no JetStream',
  )
})
