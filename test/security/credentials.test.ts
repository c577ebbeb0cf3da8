/**
 * `npm run creds` (scripts/creds.ts, run in this process): a generated credentials directory against a real
 * nats-server that includes its permissions.conf — each role logs in with its own seed and keeps its permissions, a
 * seed of another directory is refused, and a rotation keeps both keys working until it is retired. And the shipped
 * config holds no password for nats-server to warn about.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { nkeyAuthenticator, nkeys } from '@nats-io/nats-core'
import t, { type Test } from 'tap'
import Type from 'typebox'
import { client, defineService, serve } from 'switchboard'
import { credsMain } from '../../scripts/creds.ts'
import { natsServerBin } from '../../scripts/ensure-nats-server.mjs'
import { MODULES } from '../../services/registry.ts'
import { connectNats } from '../../services/shared/connect.ts'
import { previousSeedFile, readSeed, seedFile } from '../../services/shared/credentials.ts'
import { allPermissions } from '../../services/shared/permissions.ts'
import { confSecurity, connectAs, devSeedFile, includeLine, seedOf } from '../fixtures/nats-conf.ts'
import { serverFor, statusOf } from '../harness/index.ts'

const ROLES = allPermissions(Object.values(MODULES)).map(([r]) => r)
const Ping = defineService('user', { version: '1.0.0', methods: { ping: { input: Type.Object({}), output: Type.Object({ by: Type.String() }) } } })
const FriendPing = defineService('friend', { version: '1.0.0', methods: { ping: { input: Type.Object({}), output: Type.Object({ by: Type.String() }) } } })

/** Runs `npm run creds -- <argv>` in this process; fails the test unless it exits 0. */
function creds(t: Test, argv: string[]): string {
  let out = ''
  let err = ''
  const code = credsMain(argv, { out: (s) => void (out += `${s}\n`), err: (s) => void (err += `${s}\n`) })
  t.equal(code, 0, `creds ${argv.join(' ')}: ${err}`)
  return out
}

function tempCreds(t: Test): string {
  const parent = mkdtempSync(join(tmpdir(), 'switchboard-creds-'))
  t.teardown(() => rmSync(parent, { recursive: true, force: true }))
  return join(parent, 'creds')
}

/** Whether `role` logs in with the seed in `file` (no reconnect, closed at once). */
async function logsIn(url: string, role: 'user' | 'client' | 'friend', file: string): Promise<boolean> {
  try {
    const nc = await connectAs(url, role, { authenticator: nkeyAuthenticator(readSeed(file)), reconnect: false })
    await nc.close()
    return true
  } catch (err) {
    if (/Authorization/i.test(String(err))) return false
    throw err
  }
}

t.test(
  'creds - init writes a seed per role (0600, dir 0700), a permissions.conf of public keys only and a nats.conf including it; refuses to overwrite without --force',
  async (t) => {
    const dir = tempCreds(t)
    const out = creds(t, ['init', dir])
    t.match(out, /include .*permissions\.conf/, 'says what nats-server includes')
    t.match(out, /SWITCHBOARD_CREDS_DIR=/, 'and what every process gets')
    t.same(readdirSync(dir).sort(), [...ROLES.map((r) => `${r}.nk`), 'nats.conf', 'permissions.conf'].sort())
    const serverConf = readFileSync(join(dir, 'nats.conf'), 'utf8')
    t.match(serverConf, /^include "permissions\.conf"$/m, 'a server config beside them includes their permissions.conf')
    t.notMatch(serverConf, /config\/permissions\.conf"$/m, 'not the dev one')
    const check = spawnSync(natsServerBin() as string, ['-t', '-c', join(dir, 'nats.conf')], { encoding: 'utf8' })
    t.equal(check.status, 0, `nats-server -t accepts it: ${check.stderr}`)
    t.equal(statSync(dir).mode & 0o777, 0o700, 'dir 0700')
    for (const r of ROLES) t.equal(statSync(seedFile(dir, r)).mode & 0o777, 0o600, `${r}.nk 0600`)
    const conf = readFileSync(join(dir, 'permissions.conf'), 'utf8')
    for (const r of ROLES) {
      const key = nkeys.fromSeed(readSeed(seedFile(dir, r))).getPublicKey()
      t.match(conf, new RegExp(`# ${r}\\n {4}\\{\\n {6}nkey: ${key}\\n`), `${r} by its public key`)
    }
    t.notMatch(conf, /\bS[A-Z2-7]{57}\b|password/, 'no seed, no password')

    const before = readFileSync(seedFile(dir, 'user'), 'utf8')
    const err: string[] = []
    t.equal(credsMain(['init', dir], { out: () => {}, err: (s) => void err.push(s) }), 1)
    t.match(err.join(''), /already holds seeds .*--force/)
    t.equal(readFileSync(seedFile(dir, 'user'), 'utf8'), before, 'the seeds are untouched')
    creds(t, ['init', dir, '--force'])
    t.not(readFileSync(seedFile(dir, 'user'), 'utf8'), before, '--force replaces them')
    t.equal(credsMain(['rotate', dir, 'nobody'], { out: () => {}, err: () => {} }), 1, 'an unknown role is refused')
    t.equal(credsMain(['frobnicate', dir], { out: () => {}, err: () => {} }), 2, 'usage')
  },
)

t.test('creds - roles log in with the seeds of a generated directory and keep their permissions', async (t) => {
  const dir = tempCreds(t)
  creds(t, ['init', dir])
  const server = await serverFor(t, { jetstream: false, extra: includeLine(join(dir, 'permissions.conf')) })
  const env = { NATS_URL: server.url, SWITCHBOARD_CREDS_DIR: dir }
  const userNc = await connectNats('user', env)
  const clientNc = await connectNats('client', env)
  t.teardown(() => Promise.all([userNc.close(), clientNc.close()]))
  const worker = await serve(userNc, Ping, { ping: () => ({ by: 'user' }) })
  t.teardown(() => worker.stop())

  t.same(await client(clientNc, Ping).ping({}), { by: 'user' }, 'client calls the user module; replies reach its own inbox')
  const sub = clientNc.subscribe('rpc.user.>', { queue: 'user' })
  t.match(String(await sub.closed), /Permissions Violation for Subscription/, 'a client cannot serve a module')
  await t.rejects(
    serve(userNc, FriendPing, { ping: () => ({ by: 'impostor' }) }),
    /cannot subscribe to rpc\.friend\.ping/,
    "nor a module another module's subjects",
  )
  const snoop = userNc.subscribe('_INBOX_client.>')
  t.match(String(await snoop.closed), /Permissions Violation for Subscription/, "nor read another role's replies")
  t.equal(await statusOf(client(clientNc, FriendPing, { timeout: 300 }).ping({})), 'UNAVAILABLE')

  t.notOk(await logsIn(server.url, 'user', devSeedFile('user')), 'the dev seed of the same role is refused')
  const other = tempCreds(t)
  creds(t, ['init', other])
  t.notOk(await logsIn(server.url, 'client', seedFile(other, 'client')), "another directory's seed is refused")
  t.ok(await logsIn(server.url, 'client', seedFile(dir, 'client')), 'control: its own logs in')
})

t.test('creds - rotate + reload accepts the old and the new seed; retire + reload only the new', async (t) => {
  const dir = tempCreds(t)
  creds(t, ['init', dir])
  const server = await serverFor(t, { jetstream: false, extra: includeLine(join(dir, 'permissions.conf')) })
  const oldNc = await connectAs(server.url, 'client', { authenticator: seedOf('client', dir), reconnect: false })
  const oldSeed = readFileSync(seedFile(dir, 'client'), 'utf8')
  const friendSeed = readFileSync(seedFile(dir, 'friend'), 'utf8')

  t.match(creds(t, ['rotate', dir, 'client', 'user']), /rotated client, user: .*reload/s)
  t.equal(readFileSync(previousSeedFile(dir, 'client'), 'utf8'), oldSeed, 'the old seed moved to previous/')
  t.not(readFileSync(seedFile(dir, 'client'), 'utf8'), oldSeed, 'a new one in its place')
  t.equal(readFileSync(seedFile(dir, 'friend'), 'utf8'), friendSeed, 'roles not named keep their seed')
  t.match(readFileSync(join(dir, 'permissions.conf'), 'utf8'), /# client\n[^#]*# client \(its previous key/, 'both keys of client')
  t.equal(credsMain(['rotate', dir, 'client'], { out: () => {}, err: () => {} }), 1, 'a second rotation before retire is refused')

  t.notOk(await logsIn(server.url, 'client', seedFile(dir, 'client')), 'before the reload the server knows only the old key')
  await server.reload()
  t.ok(await logsIn(server.url, 'client', seedFile(dir, 'client')), 'after rotate + reload the new seed logs in')
  t.ok(await logsIn(server.url, 'client', previousSeedFile(dir, 'client')), 'and so does the old one')
  t.notOk(oldNc.isClosed(), 'connections on the old key stay up')
  t.ok(await logsIn(server.url, 'friend', seedFile(dir, 'friend')), 'an unrotated role too')

  t.match(creds(t, ['retire', dir]), /current keys only/)
  t.notOk(existsSync(join(dir, 'previous')), 'previous/ is gone')
  await server.reload()
  t.ok(await logsIn(server.url, 'client', seedFile(dir, 'client')), 'after retire + reload the new seed logs in')
  t.ok(await logsIn(server.url, 'user', seedFile(dir, 'user')), 'for every rotated role')
  t.equal(
    await Promise.race([oldNc.closed().then(() => 'closed'), new Promise((r) => setTimeout(() => r('open'), 3_000))]),
    'closed',
    'a connection on the old key is closed',
  )
  const oldFile = join(dir, '..', 'client-old.nk') // kept by the test: retire dropped it from the directory
  writeFileSync(oldFile, oldSeed)
  t.notOk(await logsIn(server.url, 'client', oldFile), 'and the old seed no longer logs in')
})

t.test('nats.conf - a server with the shipped config prints no "Plaintext passwords" warning', async (t) => {
  const shipped = await serverFor(t, { jetstream: false, extra: confSecurity() })
  t.notMatch(shipped.log(), /Plaintext passwords/)
  t.match(shipped.log(), /Server is ready/, 'control: its log is read')
  const withPassword = await serverFor(t, { jetstream: false, extra: 'authorization { users = [ { user: a, password: b } ] }' })
  t.match(withPassword.log(), /Plaintext passwords detected/, 'control: a password user is warned about')
})
