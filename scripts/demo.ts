/**
 * `npm run demo`: a scripted chat session against a running system, through the gateway WebSocket at GATEWAY_URL
 * (default ws://127.0.0.1:8080). When nothing answers there it runs `scripts/start.ts` itself and stops it after.
 * Prints every call with its status; exits 0 when every expected outcome held, 1 otherwise.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { CallError, GatewayConnection, type PushEvent } from '../services/chat-client/connection.ts'

const url = process.env.GATEWAY_URL || 'ws://127.0.0.1:8080'
const adminUser = process.env.SWITCHBOARD_ADMIN_USER || 'admin'
const adminPassword = process.env.SWITCHBOARD_ADMIN_PASSWORD || 'admin-dev-pw'
const suffix = randomBytes(3).toString('hex')
let failures = 0
let checks = 0

const mark = (ok: boolean) => {
  checks++
  if (!ok) failures++
  return ok ? 'ok  ' : 'FAIL'
}

function show(input: unknown): string {
  const text = JSON.stringify(input, (k, v) => (k === 'password' || k === 'token' ? '***' : v))
  return text === '{}' ? '' : text
}

/** Makes a call and checks its status: `expected` is 'OK' or the error code it must fail with. */
async function step<T>(who: string, conn: GatewayConnection, call: string, input: unknown, expected = 'OK'): Promise<T | undefined> {
  let status: string
  let result: unknown
  try {
    result = await conn.call(call, input)
    status = 'OK'
  } catch (err) {
    status = err instanceof CallError ? `${err.code} ${err.status}: ${err.message}` : String(err)
  }
  const code = status.split(' ')[0]
  const note = expected !== 'OK' && code === expected ? ' (expected)' : expected !== code ? ` (expected ${expected})` : ''
  console.log(`  ${mark(code === expected)} ${who.padEnd(6)} ${call} ${show(input)} -> ${status}${note}`)
  return code === 'OK' ? (result as T) : undefined
}

/** Checks that `conn` gets a pushed event that `match` accepts. */
async function expectPush(who: string, conn: GatewayConnection, what: string, match: (e: PushEvent) => boolean): Promise<void> {
  try {
    const e = await conn.waitForEvent(match, 5_000)
    const m = e.message as { from?: string; text?: string }
    console.log(`  ${mark(true)} ${who.padEnd(6)} <- ${e.event} from ${m.from}: "${m.text}"`)
  } catch {
    console.log(`  ${mark(false)} ${who.padEnd(6)} <- no ${what} arrived`)
  }
}

function check(label: string, ok: boolean): void {
  console.log(`  ${mark(ok)} ${label}`)
}

const pushOf = (messageId: string | undefined) => (e: PushEvent) => (e.message as { messageId?: string } | undefined)?.messageId === messageId

async function demo(): Promise<void> {
  const [alice, bob, carol, admin] = await Promise.all([1, 2, 3, 4].map(() => GatewayConnection.open(url)))
  const names = { alice: `alice_${suffix}`, bob: `bob_${suffix}`, carol: `carol_${suffix}` }
  const pw = (name: string) => `${name}-demo-password`

  console.log('\n1. accounts')
  for (const [who, conn] of [
    ['alice', alice],
    ['bob', bob],
    ['carol', carol],
  ] as const) {
    await step(who, conn!, 'user.register', { username: names[who], password: pw(who) })
  }
  await step('alice', alice!, 'user.login', { username: names.alice, password: pw('alice') })
  await step('bob', bob!, 'user.login', { username: names.bob, password: 'not-the-password' }, 'BAD_CREDENTIALS')
  await step('bob', bob!, 'user.login', { username: `nobody_${suffix}`, password: pw('bob') }, 'BAD_CREDENTIALS')
  await step('bob', bob!, 'user.login', { username: names.bob, password: pw('bob') })
  await step('bob', bob!, 'user.whoami', {})

  console.log('\n2. friends')
  await step('alice', alice!, 'friend.add', { username: names.bob })
  await step('alice', alice!, 'friend.add', { username: `ghost_${suffix}` }, 'NOT_FOUND')
  const friends = await step<{ username: string; online: boolean }[]>('bob', bob!, 'friend.list', {})
  check(`bob sees alice as an online friend`, friends?.some((f) => f.username === names.alice && f.online) === true)

  console.log('\n3. one-to-one, in real time')
  const hi = await step<{ messageId: string }>('alice', alice!, 'message.send', { to: names.bob, text: 'hi bob, got a minute?' })
  await expectPush('bob', bob!, 'message', pushOf(hi?.messageId))
  const re = await step<{ messageId: string }>('bob', bob!, 'message.send', { to: names.alice, text: 'sure, what is up?' })
  await expectPush('alice', alice!, 'message', pushOf(re?.messageId))
  const history = await step<unknown[]>('alice', alice!, 'message.history', { with: names.bob, limit: 10 })
  check('history holds both messages', history?.length === 2)

  console.log('\n4. groups')
  const group = await step<{ groupId: string }>('alice', alice!, 'group.create', { name: `demo ${suffix}` })
  const groupId = group?.groupId ?? 'missing'
  await step('bob', bob!, 'group.join', { groupId })
  await step('bob', bob!, 'group.members', { groupId })
  const g = await step<{ messageId: string }>('alice', alice!, 'message.sendGroup', { groupId, text: 'welcome to the group' })
  await expectPush('bob', bob!, 'group message', pushOf(g?.messageId))

  console.log('\n5. offline delivery')
  const away = await step<{ messageId: string; delivered: boolean }>('alice', alice!, 'message.send', { to: names.carol, text: 'see this when you are back' })
  check('carol is offline, so the message is kept', away?.delivered === false)
  await step('carol', carol!, 'user.login', { username: names.carol, password: pw('carol') })
  const offline = await step<{ messageId: string; from: string; text: string }[]>('carol', carol!, 'message.offline', {})
  for (const m of offline ?? []) console.log(`         carol  <- kept message from ${m.from}: "${m.text}"`)
  check('carol got the kept message at login', offline?.some((m) => m.messageId === away?.messageId) === true)
  await step('carol', carol!, 'message.sendGroup', { groupId, text: 'can I post here?' }, 'PERMISSION_DENIED')
  await step('carol', carol!, 'admin.broadcast', { text: 'I am not an admin' }, 'PERMISSION_DENIED')
  await step('carol', carol!, 'user.verify', { token: 'x' }, 'UNIMPLEMENTED')

  console.log('\n6. admin broadcast')
  await step('admin', admin!, 'user.login', { username: adminUser, password: adminPassword })
  const b = await step<{ delivered: number }>('admin', admin!, 'admin.broadcast', { text: `demo ${suffix}: hello everyone` })
  check(`broadcast reached at least 4 sessions (got ${b?.delivered})`, (b?.delivered ?? 0) >= 4)
  for (const [who, conn] of [
    ['alice', alice],
    ['bob', bob],
    ['carol', carol],
  ] as const) {
    await expectPush(who, conn!, 'broadcast', (e) => e.event === 'broadcast' && (e.message as { text?: string }).text === `demo ${suffix}: hello everyone`)
  }
  await step('admin', admin!, 'admin.stats', {})

  await Promise.all([alice, bob, carol, admin].map((c) => c!.close()))
}

async function reachable(): Promise<boolean> {
  try {
    await (await GatewayConnection.open(url)).close()
    return true
  } catch {
    return false
  }
}

function startSystem(): Promise<ChildProcess> {
  const port = new URL(url).port || '80'
  console.log(`no gateway at ${url}: starting the system (scripts/start.ts, GATEWAY_PORT=${port})…`)
  const root = fileURLToPath(new URL('../', import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: root,
    env: { ...process.env, GATEWAY_PORT: port },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('system ready')) resolve(child)
    })
    child.once('exit', (code) => reject(new Error(`scripts/start.ts exited (${code}) before the system was ready:\n${out}`)))
  })
}

let system: ChildProcess | undefined
let aborted = false
try {
  if (!(await reachable())) system = await startSystem()
  console.log(`demo against ${url} (run ${suffix})`)
  await demo()
} catch (err) {
  aborted = true
  console.error(`demo stopped: ${(err as Error).message}`)
}
if (system !== undefined) {
  const exited = new Promise((r) => system!.once('exit', r))
  system.kill('SIGINT')
  await exited
}
console.log(
  `\n${checks - failures}/${checks} expected outcomes held${failures === 0 ? '' : ` — ${failures} did not`}${aborted ? '; the demo did not finish' : ''}`,
)
process.exit(failures === 0 && !aborted ? 0 : 1)
