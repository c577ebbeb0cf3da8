import t from 'tap'
import { FEED_CREDENTIAL_VARS, DEFAULT_CREDENTIAL_VARS } from '../../services/shared/connect.ts'
import { isProduction, productionProblems } from '../../services/shared/production.ts'

t.test('production - NODE_ENV or SWITCHBOARD_ENV asks for it', async (t) => {
  t.ok(isProduction({ NODE_ENV: 'production' }))
  t.ok(isProduction({ SWITCHBOARD_ENV: 'production' }))
  t.notOk(isProduction({ NODE_ENV: 'development' }))
  t.notOk(isProduction({}))
})

t.test('production - every default or missing secret is named, with how to set it', async (t) => {
  const problems = productionProblems({}, { connections: [DEFAULT_CREDENTIAL_VARS, FEED_CREDENTIAL_VARS], adminPassword: true, feedKey: true })
  t.match(problems.join('\n'), /SWITCHBOARD_CREDS_DIR is not set.*npm run creds -- init <dir>/, 'the dev NATS seeds')
  t.match(problems.join('\n'), /SWITCHBOARD_ADMIN_PASSWORD is not set: set SWITCHBOARD_ADMIN_PASSWORD/, 'a missing admin password')
  t.match(problems.join('\n'), /SWITCHBOARD_FEED_KEY is not set/, 'a missing feed key')
  const dev = productionProblems(
    { SWITCHBOARD_ADMIN_PASSWORD: 'admin-dev-pw', SWITCHBOARD_FEED_KEY: 'switchboard-dev-feed-key', NATS_PASS: 'gateway-dev-pw' },
    { adminPassword: true, feedKey: true },
  )
  t.match(dev.join('\n'), /SWITCHBOARD_ADMIN_PASSWORD is the dev default/)
  t.match(dev.join('\n'), /SWITCHBOARD_FEED_KEY is the dev default/)
  t.match(dev.join('\n'), /NATS_PASS is the dev password of gateway/)
  t.match(productionProblems({ SWITCHBOARD_ADMIN_PASSWORD: 'short' }, { connections: [], adminPassword: true }), [/shorter than 12 characters/])
})

t.test('production - own secrets pass', async (t) => {
  const env = {
    NATS_USER: 'gateway',
    NATS_PASS: 'a-long-own-password',
    SWITCHBOARD_ADMIN_PASSWORD: 'correct horse battery',
    SWITCHBOARD_FEED_KEY: 'k'.repeat(32),
  }
  t.same(productionProblems(env, { adminPassword: true, feedKey: true }), [])
})
