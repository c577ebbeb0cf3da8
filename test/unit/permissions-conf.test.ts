import { readFileSync } from 'node:fs'
import t from 'tap'
import { PERMISSIONS_FILE, permissionsConf } from '../../scripts/permissions.ts'
import { MODULES } from '../../services/registry.ts'
import { modulePermissions } from '../../services/shared/permissions.ts'

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
