import { readFileSync } from 'node:fs'
import { getPriority } from 'node:os'
import { alive, listening } from '../harness/probes.ts'
import t, { type Test } from 'tap'
import { eventually, freePort } from '../harness/index.ts'
import { spawnProcess } from '../harness/system.ts'
import { cli } from '../fixtures/micro/cli.ts'
import { DEFAULT_WORKER_NICE } from '../../services/shared/priority.ts'

/** npm start's own nats-server, from nats.conf. */
const START_NATS = 'nats://127.0.0.1:4222'

/** Every process in start.ts's table by name (nats-server's keeper as `nats-keeper`), with its pid. */
function tablePids(output: string): Map<string, number> {
  const pids = new Map<string, number>()
  for (const line of output.split('\n')) {
    const row = /^(nats-server|gateway|(?:user|friend|group|message|admin)#\d+)\s+(\d+)\s/.exec(line)
    if (row === null) continue
    pids.set(row[1]!, Number(row[2]))
    const keeper = /kept by pid (\d+)/.exec(line)
    if (keeper !== null) pids.set('nats-keeper', Number(keeper[1]))
  }
  return pids
}

/** The CPU niceness of process `pid` (field 19 of /proc/<pid>/stat). */
const niceOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])
}

/** SIGKILLs at teardown whichever of `pids` is still alive: a failed test leaves nothing running either. */
function killLeftovers(t: Test, pids: () => Iterable<number>): void {
  t.teardown(() => {
    for (const pid of pids()) if (alive(pid)) process.kill(pid, 'SIGKILL')
  })
}

/** Resolves once `check` holds, polling every 50 ms, or after `ms` (check again to know which). */
async function until(check: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms
  while (!(await check()) && Date.now() < end) await new Promise((r) => setTimeout(r, 50))
}

/** Runs `npm start` (its own nats-server on 4222, the gateway on free ports) until "system ready"; every pid in its table is killed at teardown if still alive. */
async function startReady(t: Test) {
  const port = await freePort()
  const opsPort = await freePort()
  const env = { NATS_URL: undefined, GATEWAY_PORT: String(port), GATEWAY_OPS_PORT: String(opsPort), SWITCHBOARD_ADMIN_PASSWORD: undefined }
  const start = spawnProcess(t, ['scripts/start.ts'], env, 'start')
  const pids = new Map<string, number>()
  killLeftovers(t, () => pids.values())
  await start.waitFor(/system ready/, 90_000)
  for (const [name, pid] of tablePids(start.output())) pids.set(name, pid)
  return { start, pids, port, opsPort }
}

t.test(
  'start - runs nats-server from nats.conf and every module, no plaintext-password warning, the demo passes, a killed child (nats-server too) is restarted, SIGTERM stops all',
  async (t) => {
    if (await listening(4222)) return t.fail('something else listens on 127.0.0.1:4222, where npm start runs its nats-server: stop it first')
    const { start, pids, port, opsPort } = await startReady(t)
    t.same(
      [...pids.keys()].sort(),
      ['admin#1', 'friend#1', 'gateway', 'group#1', 'message#1', 'message#2', 'nats-keeper', 'nats-server', 'user#1', 'user#2'],
      'the table lists every child, nats-server with the pid of its keeper',
    )
    const nices = [...pids].filter(([name]) => name !== 'nats-keeper').map(([name, pid]) => [name, niceOf(pid)] as const)
    const own = getPriority()
    t.same(
      Object.fromEntries(nices),
      Object.fromEntries(nices.map(([name]) => [name, /#/.test(name) ? DEFAULT_WORKER_NICE : own])),
      `the module workers run at niceness ${DEFAULT_WORKER_NICE}, the gateway and nats-server at this one's`,
    )
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

    const ls = await cli(['ls', '--json', '--server', START_NATS, '--nkey', 'config/dev-creds/client.nk'])
    t.equal(ls.code, 0, ls.stderr)
    const counts = Object.fromEntries((JSON.parse(ls.stdout) as { name: string; instances: unknown }[]).map((s) => [s.name, s.instances]))
    t.match(counts, { user: 2, message: 2, friend: 1, group: 1, admin: 1 }, 'switchboard ls sees every module of npm start with its copies')

    const demo = spawnProcess(t, ['scripts/demo.ts'], { GATEWAY_URL: `ws://127.0.0.1:${port}`, SWITCHBOARD_ADMIN_PASSWORD: undefined }, 'demo')
    const code = await demo.exited
    t.equal(code, 0, `demo exits 0:\n${demo.output()}`)
    t.match(demo.output(), /(\d+)\/\1 expected outcomes held/)
    t.notMatch(demo.output(), /FAIL/)

    const friendPid = pids.get('friend#1')!
    process.kill(friendPid, 'SIGKILL')
    const restarting = await start.waitFor(/\[start\] .*friend#1 /, 10_000)
    t.match(
      restarting,
      new RegExp(`friend#1 \\(pid ${friendPid}\\) was killed by SIGKILL: restarting in 500 ms \\(restart 1\\)`),
      'start.ts says it restarts it',
    )
    const restarted = await start.waitFor(/\[start\] friend#1 restarted: pid \d+ serving/, 30_000)
    const newPid = Number(/pid (\d+)/.exec(restarted)![1])
    pids.set('friend#1 (restarted)', newPid)
    t.not(newPid, friendPid, 'as a new process')
    t.ok(alive(newPid), 'which runs')
    t.equal(start.output().match(/\[friend#1\] friend worker \S+ serving/g)?.length, 2, 'and serves again')
    const friend = await cli(['call', 'friend.list', '{}', '--server', START_NATS, '--nkey', 'config/dev-creds/client.nk'])
    t.match(
      friend.stdout + friend.stderr,
      /UNAUTHENTICATED/,
      `friend.list is answered again (UNAUTHENTICATED without a session):\n${friend.stdout}${friend.stderr}`,
    )
    t.match(start.output(), /\[start\] system ready/, 'the rest kept running')

    // nats-server too: restarted, and every process reconnects to it
    const natsPid = pids.get('nats-server')!
    process.kill(natsPid, 'SIGKILL')
    const natsRestarting = await start.waitFor(/\[start\] .*nats-server \(pid/, 10_000)
    t.match(
      natsRestarting,
      new RegExp(`nats-server \\(pid ${natsPid}\\) was killed by SIGKILL: restarting in 500 ms \\(restart 1\\)`),
      'nats-server is restarted too',
    )
    const natsBack = await start.waitFor(/\[start\] nats-server restarted: pid \d+ serving \(kept by pid \d+\)/, 30_000)
    const [, newNats, newKeeper] = /pid (\d+) serving \(kept by pid (\d+)\)/.exec(natsBack)!
    pids.set('nats-server (restarted)', Number(newNats))
    pids.set('nats-keeper (restarted)', Number(newKeeper))
    t.not(Number(newNats), natsPid, 'as a new process')
    const again = await eventually(async () => {
      const r = await cli(['call', 'friend.list', '{}', '--server', START_NATS, '--nkey', 'config/dev-creds/client.nk'])
      if (!/UNAUTHENTICATED/.test(r.stdout + r.stderr)) throw new Error(`friend.list: ${r.stdout}${r.stderr}`)
      return r
    }, 40)
    t.ok(again, 'the workers reconnected: friend.list is answered again')
    const demoAgain = spawnProcess(t, ['scripts/demo.ts'], { GATEWAY_URL: `ws://127.0.0.1:${port}`, SWITCHBOARD_ADMIN_PASSWORD: undefined }, 'demo again')
    t.equal(await demoAgain.exited, 0, `through the gateway too: the demo passes again:\n${demoAgain.output()}`)
    t.notMatch(start.output(), /\[start\] .*(user|group|message|admin|gateway)\S* .*restarting/, 'no worker or gateway but friend#1 was restarted')

    t.equal(await start.stop('SIGTERM', 20_000), 0, 'start.ts exits 0 on SIGTERM')
    t.match(start.output(), /\[start\] stopped/)
    t.same([...pids.values()].filter(alive), [], 'every child process is gone, the restarted one, nats-server and its keeper too')
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

t.test(
  'start - SIGKILLed, start.ts leaves no orphan: every child (workers, gateway, nats-server and its keeper) is gone within seconds and the ports are free',
  async (t) => {
    if (await listening(4222)) return t.fail('something else listens on 127.0.0.1:4222, where npm start runs its nats-server: stop it first')
    const { start, pids, port, opsPort } = await startReady(t)
    t.equal(pids.size, 10, `every child's pid is known: ${[...pids.keys()].join(', ')}`)
    t.same(
      [...pids.values()].filter((pid) => !alive(pid)),
      [],
      'all of them run',
    )

    const killedAt = Date.now()
    start.child.kill('SIGKILL')
    t.equal(await start.exited, null, 'start.ts is gone at once (SIGKILL: it can stop nothing itself)')
    await until(() => [...pids.values()].every((pid) => !alive(pid)), 10_000)
    const took = Date.now() - killedAt
    const orphans = [...pids].filter(([, pid]) => alive(pid)).map(([name, pid]) => `${name} (${pid})`)
    t.same(orphans, [], `no child outlives it (all gone ${took} ms after the SIGKILL)`)
    for (const [what, p] of [
      ['the gateway port', port],
      ['the ops port', opsPort],
      ['nats-server 127.0.0.1:4222', 4222],
      ['nats-server monitor 127.0.0.1:8222', 8222],
    ] as const) {
      t.notOk(await listening(p), `${what} is free`)
    }
  },
)
