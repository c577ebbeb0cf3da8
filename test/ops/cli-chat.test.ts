import t from 'tap'
import { MODULE_NAMES } from '../../services/registry.ts'
import { serverFor } from '../harness/index.ts'
import { startSystem } from '../harness/system.ts'
import { cli } from '../fixtures/micro/cli.ts'

t.test('cli - against the running chat modules', async (t) => {
  const server = await serverFor(t)
  const system = await startSystem(t, { natsUrl: server.url, copies: 1, env: { SWITCHBOARD_ADMIN_PASSWORD: 'admin-password-1' } })
  await system.add('user')
  const s = ['--server', server.url]

  t.test('cli - ls lists every chat module with its instance count', async (t) => {
    const r = await cli(['ls', '--json', ...s])
    t.equal(r.code, 0, r.stderr)
    const counts = Object.fromEntries((JSON.parse(r.stdout) as { name: string; instances: number }[]).map((x) => [x.name, x.instances]))
    t.same(counts, Object.fromEntries(MODULE_NAMES.map((m) => [m, m === 'user' ? 2 : 1])))
  })

  t.test('cli - call user.register works, and {} is INVALID_ARGUMENT with a non-zero exit', async (t) => {
    const ok = await cli(['call', 'user.register', '{"username":"cli_user","password":"cli-password-1"}', ...s])
    t.equal(ok.code, 0, ok.stdout + ok.stderr)
    t.match(JSON.parse(ok.stdout), { status: 'OK', result: { userId: String } })
    const bad = await cli(['call', 'user.register', '{}', ...s])
    t.equal(bad.code, 1)
    t.match(JSON.parse(bad.stdout), { status: 'INVALID_ARGUMENT' })
  })
})
