import { connect as tcpConnect } from 'node:net'
import t from 'tap'
import { freePort } from '../harness/index.ts'
import { spawnProcess } from '../harness/system.ts'
import { cli } from '../fixtures/micro/cli.ts'

/** npm start's own nats-server, from nats.conf. */
const START_NATS = 'nats://127.0.0.1:4222'

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port })
    s.once('connect', () => (s.destroy(), resolve(true)))
    s.once('error', () => resolve(false))
  })

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

t.test(
  'start - runs nats-server from nats.conf and every module, no plaintext-password warning, the demo passes, a dead child is reported, SIGTERM stops all',
  async (t) => {
    if (await listening(4222)) return t.fail('something else listens on 127.0.0.1:4222, where npm start runs its nats-server: stop it first')
    const port = await freePort()
    const opsPort = await freePort()
    const env = { NATS_URL: undefined, GATEWAY_PORT: String(port), GATEWAY_OPS_PORT: String(opsPort), SWITCHBOARD_ADMIN_PASSWORD: undefined }
    const start = spawnProcess(t, ['scripts/start.ts'], env, 'start')
    await start.waitFor(/system ready/, 90_000)
    t.notMatch(start.output(), /Plaintext passwords/, 'nats-server does not warn of plaintext passwords: the roles log in with nkeys')
    t.match(start.output(), /\[nats-server\].*Server is ready/, 'its own nats-server ran')
    t.match(start.output(), new RegExp(`Dashboard \\(this machine only\\): http://127\\.0\\.0\\.1:${opsPort}/ops`), 'the dashboard is on the ops listener')
    const opsApi = await fetch(`http://127.0.0.1:${opsPort}/ops/api`)
    t.equal(opsApi.status, 200, 'which answers')
    t.equal((await fetch(`http://127.0.0.1:${port}/ops/api`)).status, 404, 'the chat port does not serve the dashboard data')
    const table = start
      .output()
      .split('\n')
      .filter((l) => /^(user|friend|group|message|admin)#\d+\s+\d+\s|^gateway\s+\d+\s/.test(l))
    t.same(table.map((l) => l.split(/\s+/)[0]).sort(), ['admin#1', 'friend#1', 'gateway', 'group#1', 'message#1', 'message#2', 'user#1', 'user#2'])
    t.match(start.output(), new RegExp(`gateway\\s+\\d+\\s+ws://127\\.0\\.0\\.1:${port}`))
    const pids = table.map((l) => Number(l.split(/\s+/)[1]))

    const ls = await cli(['ls', '--json', '--server', START_NATS, '--nkey', 'config/dev-creds/client.nk'])
    t.equal(ls.code, 0, ls.stderr)
    const counts = Object.fromEntries((JSON.parse(ls.stdout) as { name: string; instances: unknown }[]).map((s) => [s.name, s.instances]))
    t.match(counts, { user: 2, message: 2, friend: 1, group: 1, admin: 1 }, 'switchboard ls sees every module of npm start with its copies')

    const demo = spawnProcess(t, ['scripts/demo.ts'], { GATEWAY_URL: `ws://127.0.0.1:${port}`, SWITCHBOARD_ADMIN_PASSWORD: undefined }, 'demo')
    const code = await demo.exited
    t.equal(code, 0, `demo exits 0:\n${demo.output()}`)
    t.match(demo.output(), /(\d+)\/\1 expected outcomes held/)
    t.notMatch(demo.output(), /FAIL/)

    const friendPid = Number(table.find((l) => l.startsWith('friend#1'))!.split(/\s+/)[1])
    process.kill(friendPid, 'SIGKILL')
    await start.waitFor(/friend#1 .*died/, 10_000)

    t.equal(await start.stop('SIGTERM', 20_000), 0, 'start.ts exits 0 on SIGTERM')
    t.match(start.output(), /\[start\] stopped/)
    t.same(pids.filter(alive), [], 'every child process is gone')
  },
)

t.test('start - production mode refuses the dev and missing secrets, naming each, before anything starts', async (t) => {
  const env = {
    NODE_ENV: 'production',
    NATS_URL: 'nats://127.0.0.1:1',
    SWITCHBOARD_CREDS_DIR: undefined,
    SWITCHBOARD_ADMIN_PASSWORD: 'admin-dev-pw',
    SWITCHBOARD_FEED_KEY: undefined,
  }
  for (const [what, args] of [
    ['npm start', ['scripts/start.ts']],
    ['the gateway', ['services/gateway/main.ts']],
    ['the user worker', ['services/worker.ts', 'user']],
  ] as const) {
    const p = spawnProcess(t, [...args], env, what)
    t.equal(await p.exited, 2, `${what} exits 2`)
    const out = p.output()
    t.match(out, /production mode \(NODE_ENV=production\) refuses to start/, `${what} says why`)
    t.match(
      out,
      /SWITCHBOARD_CREDS_DIR is not set: the dev seeds of config\/dev-creds are in use.*npm run creds -- init <dir>/,
      `${what}: the dev NATS credentials, and how to make its own`,
    )
    if (what !== 'the gateway') t.match(out, /SWITCHBOARD_ADMIN_PASSWORD is the dev default: set SWITCHBOARD_ADMIN_PASSWORD/, `${what}: the dev admin password`)
    if (what !== 'the user worker') t.match(out, /SWITCHBOARD_FEED_KEY is not set/, `${what}: the missing feed key`)
    t.notMatch(out, /serving|system ready/, `${what} serves nothing`)
  }
})
