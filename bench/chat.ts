/**
 * bench:chat — end to end through the gateway's WebSocket: nats-server (JetStream, the shipped permissions), every
 * module as its own process (services/worker.ts), one gateway, and N simulated users in this process.
 * 1. register + log in N users; groups of GROUP_SIZE; 2. for a fixed time every user sends direct and group
 * messages at a bounded rate: messages/s and delivery latency (send -> pushed to the recipient's socket), p50/p99;
 * 3. half the users go offline, the others send them messages, they log in again: offline backlog fetch time.
 * Options: --quick, --users N, --seconds S.
 */
import { confSecurity } from '../test/fixtures/nats-conf.ts'
import { freePort, startServer } from '../test/harness/nats-server.ts'
import { commandLine, flag, numberOption } from './args.ts'
import { ChatUser, type PushedMessage } from './chat-user.ts'
import { onCleanup, runScript, spawnService } from './child.ts'
import { latencyHistogram, summarize } from './histogram.ts'
import { machine, saveResult } from './results.ts'

export const DEFAULT_CHAT = {
  users: 200,
  quickUsers: 40,
  groupSize: 10,
  seconds: 15,
  quickSeconds: 5,
  /** Pause between two sends of one user, ms (each user sends ~1/SEND_EVERY_MS per ms, bounded). */
  sendEveryMs: 200,
  /** Messages each offline user gets while away. */
  backlog: 5,
  modules: ['user', 'friend', 'group', 'message', 'admin'] as const,
  password: 'bench-password-1',
} as const

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Runs `fn` over items with at most `n` at once. */
async function pool<T, R>(items: readonly T[], n: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++
        out[i] = await fn(items[i]!, i)
      }
    }),
  )
  return out
}

await runScript(async () => {
  const quick = flag('quick')
  const d = DEFAULT_CHAT
  const n = numberOption('users', quick ? d.quickUsers : d.users)
  const seconds = numberOption('seconds', quick ? d.quickSeconds : d.seconds)
  const t0 = Date.now()
  const say = (s: string) => console.log(`  [${Math.round((Date.now() - t0) / 1000)}s] ${s}`)
  console.log(`bench:chat ${quick ? '(quick) ' : ''}— ${machine().cores} cores; ${n} users, groups of ${d.groupSize}, ${seconds} s of traffic`)
  const server = await startServer({ extra: confSecurity() }) // the shipped users and permissions
  onCleanup(() => server.stop())
  const env = { ...process.env, NATS_URL: server.url, LOG_LEVEL: 'error', SWITCHBOARD_ADMIN_PASSWORD: 'bench-admin-pw' }
  for (const m of d.modules) await spawnService(m, 'services/worker.ts', [m], env, /serving/)
  const port = await freePort()
  await spawnService('gateway', 'services/gateway/main.ts', [], { ...env, GATEWAY_PORT: String(port) }, /serving/)
  const url = `ws://127.0.0.1:${port}`
  say(`system up (${d.modules.length} modules + gateway)`)

  // 1. users, sessions, groups
  const run = Date.now().toString(36)
  const names = Array.from({ length: n }, (_, i) => `b${run}_${i}`)
  const users = await pool(names, 16, async (username) => {
    const u = await ChatUser.open(url)
    await u.call('user.register', { username, password: d.password })
    await u.call('user.login', { username, password: d.password })
    return u
  })
  say(`${n} users registered and logged in`)
  const groups: string[][] = []
  const groupIds: string[] = []
  for (let g = 0; g * d.groupSize < n; g++) {
    const members = Array.from({ length: Math.min(d.groupSize, n - g * d.groupSize) }, (_, k) => g * d.groupSize + k)
    const { groupId } = await users[members[0]!]!.call<{ groupId: string }>('group.create', { name: `bench ${g}` })
    await Promise.all(members.slice(1).map((i) => users[i]!.call('group.join', { groupId })))
    groups.push(members.map(String))
    groupIds.push(groupId)
  }
  say(`${groupIds.length} groups`)

  // 2. real-time traffic: latency from send to push, per recipient
  const latency = latencyHistogram()
  let delivered = 0
  const onMessage = (m: PushedMessage) => {
    const sent = Number(m.text.split(' ')[1])
    if (Number.isFinite(sent)) {
      latency.recordValue(Math.max(1, Math.round((performance.now() - sent) * 1000)))
      delivered++
    }
  }
  for (const u of users) u.onMessage = onMessage
  let sent = 0
  let failed = 0
  const failures: Record<string, number> = {}
  const until = Date.now() + seconds * 1000
  await Promise.all(
    users.map(async (u, i) => {
      await sleep(Math.random() * d.sendEveryMs)
      for (let k = 0; Date.now() < until; k++) {
        const direct = k % 2 === 0
        const text = `t ${performance.now()}`
        try {
          if (direct) await u.call('message.send', { to: names[(i + 1 + Math.floor(Math.random() * (n - 1))) % n], text })
          else await u.call('message.sendGroup', { groupId: groupIds[Math.floor(i / d.groupSize)], text })
          sent++
        } catch (err) {
          failed++
          const code = String((err as Error).message).split(':')[0]!
          failures[code] = (failures[code] ?? 0) + 1
        }
        await sleep(d.sendEveryMs)
      }
    }),
  )
  await sleep(1_000) // let the last pushes land
  const traffic = {
    seconds,
    sent,
    failed,
    failures,
    messagesPerSecond: Math.round(sent / seconds),
    deliveriesPerSecond: Math.round(delivered / seconds),
    delivered,
    latencyUs: summarize(latency),
  }
  latency.destroy()
  say(
    `traffic: ${traffic.messagesPerSecond} messages/s accepted, ${traffic.deliveriesPerSecond} deliveries/s, latency p50 ${traffic.latencyUs.p50} µs p99 ${traffic.latencyUs.p99} µs${failed > 0 ? `, ${failed} failed sends ${JSON.stringify(failures)}` : ''}`,
  )

  // 3. offline backlog: the odd users leave, the even ones write to them, the odd ones come back and fetch
  for (const u of users) u.onMessage = () => {}
  const away = users.map((_, i) => i).filter((i) => i % 2 === 1)
  await Promise.all(away.map((i) => users[i]!.close()))
  await pool(away, 16, async (i) => {
    for (let k = 0; k < d.backlog; k++) await users[i - 1]!.call('message.send', { to: names[i], text: `offline ${k}` })
  })
  const fetchMs: number[] = []
  let fetched = 0
  await pool(away, 16, async (i) => {
    const u = await ChatUser.open(url)
    await u.call('user.login', { username: names[i], password: d.password })
    const t = performance.now()
    const backlog = await u.call<unknown[]>('message.offline', {})
    fetchMs.push(performance.now() - t)
    fetched += backlog.filter((m) => String((m as { text: string }).text).startsWith('offline ')).length
    users[i] = u
  })
  fetchMs.sort((a, b) => a - b)
  const offline = {
    users: away.length,
    perUser: d.backlog,
    expected: away.length * d.backlog,
    fetched,
    fetchMsP50: Math.round(fetchMs[fetchMs.length >> 1]! * 10) / 10,
    fetchMsMax: Math.round(fetchMs.at(-1)! * 10) / 10,
  }
  say(`offline backlog: ${fetched}/${offline.expected} messages fetched at login; message.offline p50 ${offline.fetchMsP50} ms, max ${offline.fetchMsMax} ms`)
  await Promise.all(users.map((u) => u.close()))
  console.log(
    `CHAT ${n} users: ${traffic.messagesPerSecond} msg/s, ${traffic.deliveriesPerSecond} deliveries/s, delivery p50 ${(traffic.latencyUs.p50 / 1000).toFixed(2)} ms p99 ${(traffic.latencyUs.p99 / 1000).toFixed(2)} ms; offline backlog ${fetched}/${offline.expected}`,
  )
  const file = await saveResult('chat', quick, { command: commandLine('bench:chat'), options: { ...d, users: n, seconds }, traffic, offline })
  console.log(`saved ${file}\ndone in ${Math.round((Date.now() - t0) / 1000)} s`)
})
