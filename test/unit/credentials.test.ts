import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { nkeys } from '@nats-io/nats-core'
import t, { type Test } from 'tap'
import { addMissingSeeds, initCreds, rotateCreds } from '../../scripts/creds.ts'
import { MODULES } from '../../services/registry.ts'
import { connectNats, DEFAULT_CREDENTIAL_VARS, FEED_CREDENTIAL_VARS, natsSettings } from '../../services/shared/connect.ts'
import { DEV_CREDS_DIR, publicKeyOf, publicKeys, readSeed, seedFile } from '../../services/shared/credentials.ts'
import { devCredentialsInUse, devPublicKeys } from '../../services/shared/dev-credentials.ts'
import { allPermissions, CLIENT_PERMISSIONS, renderAuthorization } from '../../services/shared/permissions.ts'

const ROLES = allPermissions(Object.values(MODULES)).map(([r]) => r)

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-creds-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

t.test('connect - natsSettings logs in with the seed <SWITCHBOARD_CREDS_DIR>/<user>.nk, or with a password when one is set', async (t) => {
  t.match(
    natsSettings('user'),
    { user: 'user', inboxPrefix: '_INBOX_user', auth: { kind: 'nkey', seedFile: join(DEV_CREDS_DIR, 'user.nk') } },
    'dev seeds by default',
  )
  t.match(natsSettings('user', { SWITCHBOARD_CREDS_DIR: '/etc/sb', NATS_USER: 'user-eu' }), {
    user: 'user-eu',
    inboxPrefix: '_INBOX_user-eu',
    auth: { kind: 'nkey', seedFile: '/etc/sb/user-eu.nk' },
  })
  t.same(natsSettings('user', { NATS_PASS: 's3cret' }).auth, { kind: 'password', pass: 's3cret' })
  const feed = natsSettings('gateway-feed', { NATS_PASS: 'first-only', SWITCHBOARD_CREDS_DIR: '/c' }, FEED_CREDENTIAL_VARS)
  t.match(
    feed,
    { user: 'gateway-feed', inboxPrefix: '_INBOX_gateway-feed', auth: { kind: 'nkey', seedFile: '/c/gateway-feed.nk' } },
    'a second connection reads its own variables',
  )
  t.same(natsSettings('gateway-feed', { NATS_FEED_USER: 'f', NATS_FEED_PASS: 'p' }, FEED_CREDENTIAL_VARS).auth, { kind: 'password', pass: 'p' })
})

t.test('connect - connectNats names the seed file and the variables when the seed is missing or malformed', async (t) => {
  const dir = tempDir(t)
  const env = { NATS_URL: 'nats://127.0.0.1:1', SWITCHBOARD_CREDS_DIR: dir }
  await t.rejects(
    connectNats('user', env),
    new RegExp(`cannot read the nkey seed ${join(dir, 'user.nk')} .*NATS_USER.*SWITCHBOARD_CREDS_DIR.*NATS_PASS.*ENOENT`),
  )
  writeFileSync(join(dir, 'user.nk'), 'not a seed\n')
  await t.rejects(connectNats('user', env), /user\.nk .*holds no nkey seed/)
  writeFileSync(join(dir, 'user.nk'), new TextDecoder().decode(nkeys.createAccount().getSeed()))
  await t.rejects(connectNats('user', env), /user\.nk .*holds an nkey seed, but not a user's/)
  await t.rejects(connectNats('gateway-feed', env, FEED_CREDENTIAL_VARS), /gateway-feed\.nk .*NATS_FEED_USER.*NATS_FEED_PASS/)
})

t.test('creds - the dev directory holds a readable user seed for every role', async (t) => {
  const keys = publicKeys(DEV_CREDS_DIR, ROLES)
  t.same([...keys.keys()], ROLES)
  for (const [role, [key, ...more]] of keys) {
    t.match(key, /^U[A-Z2-7]{55}$/, `${role}: a user public key`)
    t.same(more, [], `${role}: no rotation under way`)
  }
  t.equal(devPublicKeys().size, ROLES.length, 'one key each')
})

t.test('permissions - renderAuthorization lists one nkey user per key of a role, and refuses a role without one', async (t) => {
  const conf = renderAuthorization([['client', CLIENT_PERMISSIONS]], () => ['UNEW', 'UOLD'])
  t.match(conf, /# client\n {4}\{\n {6}nkey: UNEW\n {6}permissions: \{\n {8}publish: \{ allow: \["rpc\.>", "\$SRV\.>"\] \}/)
  t.match(conf, /# client \(its previous key, until `npm run creds -- retire`\)\n {4}\{\n {6}nkey: UOLD\n/)
  t.notMatch(conf, /password|user:/)
  t.throws(() => renderAuthorization([['client', CLIENT_PERMISSIONS]], () => []), /no nkey for role 'client'/)
})

t.test('dev credentials - devCredentialsInUse names every dev credential a process would use', async (t) => {
  t.same(devCredentialsInUse({}), ['SWITCHBOARD_CREDS_DIR is not set: the dev seeds of config/dev-creds are in use'])
  t.same(devCredentialsInUse({ SWITCHBOARD_CREDS_DIR: `${DEV_CREDS_DIR}/` }), ['SWITCHBOARD_CREDS_DIR is config/dev-creds: the dev seeds are in use'])

  const own = tempDir(t)
  initCreds(own)
  t.same(devCredentialsInUse({ SWITCHBOARD_CREDS_DIR: own }), [], 'a directory of its own: nothing')

  copyFileSync(seedFile(DEV_CREDS_DIR, 'client'), seedFile(own, 'client'))
  t.same(
    devCredentialsInUse({ SWITCHBOARD_CREDS_DIR: own }),
    [`${seedFile(own, 'client')} is the dev seed of client (config/dev-creds/client.nk)`],
    'a dev seed copied in',
  )

  t.same(
    devCredentialsInUse({ NATS_PASS: 'client-dev-pw' }),
    ['NATS_PASS is the dev password of client (client-dev-pw)'],
    'passwords only: the seeds do not matter',
  )
  t.same(devCredentialsInUse({ NATS_PASS: 'a-real-one' }), [])
  t.same(devCredentialsInUse({ NATS_PASS: 'a-real-one', NATS_FEED_PASS: 'gateway-feed-dev-pw' }, [DEFAULT_CREDENTIAL_VARS, FEED_CREDENTIAL_VARS]), [
    'NATS_FEED_PASS is the dev password of gateway-feed (gateway-feed-dev-pw)',
  ])
  t.same(
    devCredentialsInUse({ NATS_PASS: 'a-real-one' }, [DEFAULT_CREDENTIAL_VARS, FEED_CREDENTIAL_VARS]),
    ['SWITCHBOARD_CREDS_DIR is not set: the dev seeds of config/dev-creds are in use'],
    'the second connection still logs in with a dev seed',
  )
})

t.test('creds - readSeed ignores surrounding whitespace and gives the seed its public key', async (t) => {
  const dir = tempDir(t)
  const kp = nkeys.createUser()
  writeFileSync(join(dir, 'x.nk'), `\n  ${new TextDecoder().decode(kp.getSeed())}  \n`)
  t.equal(publicKeyOf(readSeed(join(dir, 'x.nk'))), kp.getPublicKey())
  t.throws(() => readSeed(join(dir, 'y.nk'), 'from somewhere'), /cannot read the nkey seed .*y\.nk \(from somewhere\): ENOENT/)
})

t.test('creds - a role without a seed (a module added since init) gets one from rotate or addMissingSeeds', async (t) => {
  const dir = tempDir(t)
  initCreds(dir)
  rmSync(seedFile(dir, 'friend'))
  t.same(rotateCreds(dir, ['friend']), ['friend'])
  t.ok(existsSync(seedFile(dir, 'friend')), 'a new seed')
  t.notOk(existsSync(join(dir, 'previous')), 'nothing to keep: no previous/')
  t.same(publicKeys(dir, ['friend']).get('friend')?.length, 1)
  rmSync(seedFile(dir, 'group'))
  const user = readFileSync(seedFile(dir, 'user'), 'utf8')
  t.same(addMissingSeeds(dir), ['group'])
  t.ok(existsSync(seedFile(dir, 'group')))
  t.equal(readFileSync(seedFile(dir, 'user'), 'utf8'), user, 'the others are kept')
  t.same(addMissingSeeds(dir), [])
})
