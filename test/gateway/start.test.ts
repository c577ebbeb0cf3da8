import t from 'tap'
import { freePort, serverFor } from '../harness/index.ts'
import { spawnProcess } from '../harness/system.ts'
import { cli } from '../fixtures/micro/cli.ts'

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

t.test('start - brings the system up against NATS_URL, the demo passes, a dead child is reported, SIGTERM stops all', async (t) => {
  const server = await serverFor(t)
  const port = await freePort()
  const env = { NATS_URL: server.url, GATEWAY_PORT: String(port), SWITCHBOARD_ADMIN_PASSWORD: undefined }
  const start = spawnProcess(t, ['scripts/start.ts'], env, 'start')
  await start.waitFor(/system ready/, 90_000)
  const table = start
    .output()
    .split('\n')
    .filter((l) => /^(user|friend|group|message|admin)#\d+\s+\d+\s|^gateway\s+\d+\s/.test(l))
  t.same(table.map((l) => l.split(/\s+/)[0]).sort(), ['admin#1', 'friend#1', 'gateway', 'group#1', 'message#1', 'message#2', 'user#1', 'user#2'])
  t.match(start.output(), new RegExp(`gateway\\s+\\d+\\s+ws://127\\.0\\.0\\.1:${port}`))
  const pids = table.map((l) => Number(l.split(/\s+/)[1]))

  const ls = await cli(['ls', '--json', '--server', server.url])
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
})
