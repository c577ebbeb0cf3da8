import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { connectFor, freePort, serverFor } from '../harness/index.ts'
import { startEcho } from '../fixtures/echo-worker.ts'
import { cli, cliIn } from '../fixtures/micro/cli.ts'
import { testNkey } from '../fixtures/nats-conf.ts'

t.test('cli - against echo workers', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const workers = await Promise.all([startEcho(nc, 'w1'), startEcho(nc, 'w2'), startEcho(nc, 'w3')])
  t.teardown(() => Promise.all(workers.map((w) => w.stop())))
  const s = ['--server', server.url]

  t.test('cli - ls shows each service with its instance count, version and uptime', async (t) => {
    const json = await cli(['ls', '--json', ...s]) // the binary itself; the other cases run the CLI in this process
    t.equal(json.code, 0, json.stderr)
    const list = JSON.parse(json.stdout) as { name: string; instances: number; versions: string[]; ids: { id: string }[] }[]
    t.equal(list.length, 1)
    t.match(list[0], { name: 'echo', instances: 3, versions: ['1.0.0'] })
    t.same(new Set(list[0]!.ids.map((i) => i.id)), new Set(workers.map((w) => w.id)))
    const text = await cliIn(['ls'], { NATS_URL: server.url })
    t.equal(text.code, 0, text.stderr)
    t.match(text.stdout, /^SERVICE\s+INSTANCES\s+VERSIONS\s+UPTIME\s+MIX\n/)
    t.match(text.stdout, /\necho\s+3\s+1\.0\.0\s+\d+s\s+-\n?$/, 'one contract: no mix')
  })

  t.test('cli - call sends msgpack, prints the envelope and passes --auth as a bearer token', async (t) => {
    const ok = await cliIn(['call', 'echo.echo', '{"text":"x"}', ...s])
    t.equal(ok.code, 0, ok.stderr)
    t.match(JSON.parse(ok.stdout), { status: 'OK', result: { text: 'x', worker: /^w[123]$/ } })
    const who = await cliIn(['call', 'echo.whoami', '{}', '--auth', 'tok-123', '--timeout', '3000', '--json', ...s])
    t.equal(who.code, 0, who.stderr)
    const env = JSON.parse(who.stdout)
    t.equal(env.result.auth, 'Bearer tok-123')
    t.ok(env.result.deadline > Date.now() - 60_000 && env.result.deadline < Date.now() + 3_100, 'the deadline follows --timeout')
  })

  t.test('cli - call with bad input or a declared error exits non-zero with the code', async (t) => {
    const bad = await cliIn(['call', 'echo.echo', '{"text":1}', ...s])
    t.equal(bad.code, 1)
    t.match(JSON.parse(bad.stdout), { status: 'INVALID_ARGUMENT', data: { issues: [{ path: '/text' }] } })
    const declared = await cliIn(['call', 'echo.fail', '{"kind":"declared"}', ...s])
    t.equal(declared.code, 1)
    t.match(JSON.parse(declared.stdout), { status: 'OUT_OF_STOCK', data: { sku: 'A-1', left: 0 } })
    const nobody = await cliIn(['call', 'nobody.here', '{}', ...s])
    t.equal(nobody.code, 1)
    t.match(JSON.parse(nobody.stdout), { status: 'UNAVAILABLE' })
    const usage = await cliIn(['call', 'echo', '{}', ...s])
    t.equal(usage.code, 2)
    t.match(usage.stderr, /call needs <service>\.<method>/)
  })

  t.test('cli - info and stats describe methods and count calls per instance and in total', async (t) => {
    const info = await cliIn(['info', 'echo', '--json', ...s])
    t.equal(info.code, 0, info.stderr)
    const desc = JSON.parse(info.stdout)
    t.equal(desc.instances.length, 3)
    t.match(
      desc.methods.find((m: { name: string }) => m.name === 'fail'),
      {
        subject: 'rpc.echo.fail',
        queue_group: 'echo',
        input: { type: 'object', required: ['kind'] },
        errors: { OUT_OF_STOCK: { status: 409 } },
      },
    )
    const stats = await cliIn(['stats', 'echo', '--json', ...s])
    t.equal(stats.code, 0, stats.stderr)
    const fail = JSON.parse(stats.stdout).methods.find((m: { method: string }) => m.method === 'fail')
    t.equal(fail.instances.length, 3)
    t.match(fail.total, { num_requests: 1, num_errors: 1 })
    const text = await cliIn(['stats', 'echo', ...s])
    t.match(text.stdout, /fail\s+\(total\)\s+1\s+1\s/)
    t.match(text.stdout, /409:sold out/)
  })
})

t.test('cli - an unreachable server is one clear line and exit code 2', async (t) => {
  const port = await freePort()
  const r = await cli(['ls', '--server', `nats://127.0.0.1:${port}`])
  t.equal(r.code, 2)
  t.equal(r.stdout, '')
  t.equal(r.stderr, `switchboard: cannot connect to NATS at nats://127.0.0.1:${port}: connection refused\n`)
})

t.test('cli - logs in with --user/--password or NATS_USER/NATS_PASS', async (t) => {
  const server = await serverFor(t, { jetstream: false, extra: 'authorization { users: [ { user: ops, password: s3cret } ] }' })
  const nc = await connectFor(t, server.url, { user: 'ops', pass: 's3cret' })
  const w = await startEcho(nc, 'w1')
  t.teardown(() => w.stop())
  const flags = await cliIn(['ping', '--json', '--server', server.url, '--user', 'ops', '--password', 's3cret'])
  t.equal(flags.code, 0, flags.stderr)
  t.match(JSON.parse(flags.stdout), [{ name: 'echo', id: w.id, type: 'io.nats.micro.v1.ping_response' }])
  const env = await cliIn(['call', 'echo.echo', '{"text":"e"}'], { NATS_URL: server.url, NATS_USER: 'ops', NATS_PASS: 's3cret' })
  t.equal(env.code, 0, env.stderr)
  const wrong = await cliIn(['ls', '--server', server.url, '--user', 'ops', '--password', 'nope'])
  t.equal(wrong.code, 2)
  t.match(wrong.stderr, /^switchboard: cannot connect to NATS at .*: authorization violation\n$/i)
  t.notMatch(wrong.stderr, /nope/)
})

t.test('cli - logs in with --nkey or NATS_NKEY, its inbox named after the seed file', async (t) => {
  const [ops, svc, stranger] = [testNkey(), testNkey(), testNkey()]
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-cli-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = (name: string, text: string) => (writeFileSync(join(dir, name), `${text}\n`, { mode: 0o600 }), join(dir, name))
  const seed = file('ops.nk', ops.seed)
  // ops may read replies on _INBOX_ops only: the CLI must pick that prefix from the file name
  const server = await serverFor(t, {
    jetstream: false,
    extra: `authorization { users: [
      { nkey: ${ops.publicKey}, permissions: { publish: ["rpc.>", "$SRV.>"], subscribe: ["_INBOX_ops.>"] } }
      { nkey: ${svc.publicKey} }
    ] }`,
  })
  const nc = await connectFor(t, server.url, { authenticator: svc.authenticator })
  const w = await startEcho(nc, 'w1')
  t.teardown(() => w.stop())
  const flags = await cliIn(['ping', '--json', '--server', server.url, '--nkey', seed])
  t.equal(flags.code, 0, flags.stderr)
  t.match(JSON.parse(flags.stdout), [{ name: 'echo', id: w.id }])
  const env = await cliIn(['call', 'echo.echo', '{"text":"nk"}'], { NATS_URL: server.url, NATS_NKEY: seed })
  t.equal(env.code, 0, env.stderr)
  t.match(JSON.parse(env.stdout), { status: 'OK', result: { text: 'nk' } })

  const wrong = await cliIn(['ls', '--server', server.url, '--nkey', file('other.nk', stranger.seed)])
  t.equal(wrong.code, 2)
  t.match(wrong.stderr, /^switchboard: cannot connect to NATS at .*: authorization violation\n$/i, 'an unknown key is refused')
  t.notMatch(wrong.stderr, new RegExp(stranger.seed), 'and the seed is not printed')
  const missing = await cliIn(['ls', '--server', server.url, '--nkey', join(dir, 'missing.nk')])
  t.equal(missing.code, 2)
  t.match(missing.stderr, /cannot read the nkey seed .*missing\.nk \(--nkey, NATS_NKEY\): ENOENT/)
  const junk = await cliIn(['ls', '--server', server.url, '--nkey', file('junk.nk', 'not a seed')])
  t.equal(junk.code, 2)
  t.match(junk.stderr, /junk\.nk \(--nkey, NATS_NKEY\) holds no nkey user seed/)
  const both = await cliIn(['ls', '--server', server.url, '--nkey', seed, '--password', 'x'])
  t.equal(both.code, 2)
  t.match(both.stderr, /--nkey \(NATS_NKEY\) and --password \(NATS_PASS\) exclude each other/)
})
