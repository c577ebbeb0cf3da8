/**
 * The Python kit (clients/python) against the TypeScript side, over a real nats-server: a Python caller calls the
 * chat modules (worker processes) and gets the statuses a TypeScript client gets; a Python worker of a small
 * contract is called by the TypeScript typed client, listed by `switchboard ls`, and drains on SIGTERM.
 * Run: `npx tap --disable-coverage test/interop/python.test.ts` (needs python3 with clients/python/requirements.txt).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import Type from 'typebox'
import { client, defineService, RpcError } from 'switchboard'
import { infoOf } from 'switchboard/internal'
import { decode, encode } from '@msgpack/msgpack'
import { headers } from '@nats-io/nats-core'
import { cliIn } from '../fixtures/micro/cli.ts'
import { connectFor, delay, failureOf, serverFor, statusOf } from '../harness/index.ts'
import { chatClients, ROOT, startSystem } from '../harness/system.ts'

const PYTHON = process.env.PYTHON ?? 'python3'
const KIT = join(ROOT, 'clients/python')

/** The small contract the Python worker serves (its schemas reach Python as the $SRV.INFO reply below). */
const Shop = defineService('pyshop', {
  version: '1.2.0',
  description: 'a Python worker of a small contract',
  methods: {
    price: {
      description: 'the price of qty items of sku; NON-* is out of stock, BAD-* returns a result that breaks the contract',
      input: Type.Object({ sku: Type.String({ pattern: '^[A-Z]{3}-[0-9]+$' }), qty: Type.Integer({ minimum: 1, maximum: 100 }) }),
      output: Type.Object({ sku: Type.String(), total: Type.Number() }),
      errors: { OUT_OF_STOCK: { status: 409, data: Type.Object({ sku: Type.String(), left: Type.Integer({ minimum: 0 }) }) } },
      idempotent: true,
    },
    sleep: {
      description: 'sleeps ms milliseconds',
      input: Type.Object({ ms: Type.Integer({ minimum: 0, maximum: 10_000 }) }),
      output: Type.Object({ slept: Type.Integer() }),
    },
  },
})

const hasPython = spawnSync(PYTHON, ['-c', 'import nats, msgpack, jsonschema'], { stdio: 'ignore' }).status === 0

interface PyProcess {
  readonly child: ChildProcess
  output(): string
  waitFor(re: RegExp, ms?: number): Promise<string>
  readonly exited: Promise<number | null>
}

/** Runs `python3 <script> ...args` in clients/python; killed at teardown. */
function python(t: Test, args: string[]): PyProcess {
  const child = spawn(PYTHON, args, { cwd: KIT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1' } })
  let out = ''
  const waiters = new Set<() => void>()
  const add = (d: Buffer) => {
    out += d.toString()
    for (const w of waiters) w()
  }
  child.stdout!.on('data', add)
  child.stderr!.on('data', add)
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      resolve(code)
      for (const w of waiters) w()
    }),
  )
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  return {
    child,
    output: () => out,
    exited,
    waitFor: (re, ms = 20_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => (waiters.delete(check), reject(new Error(`python did not print ${re}:\n${out}`))), ms)
        const check = () => {
          const line = out.split('\n').find((l) => re.test(l))
          if (line !== undefined) {
            clearTimeout(timer)
            waiters.delete(check)
            resolve(line)
          } else if (child.exitCode !== null) {
            clearTimeout(timer)
            waiters.delete(check)
            reject(new Error(`python exited (${child.exitCode}) before printing ${re}:\n${out}`))
          }
        }
        waiters.add(check)
        check()
      }),
  }
}

t.test('python - the kit is installed', async (t) => {
  t.ok(hasPython, `${PYTHON} has nats-py, msgpack and jsonschema (python3 -m pip install -r clients/python/requirements.txt; .ci/run does it)`)
})

t.test('python - a Python caller gets the statuses of a TypeScript client from the chat modules', async (t) => {
  const server = await serverFor(t)
  await startSystem(t, { natsUrl: server.url, modules: ['user', 'friend', 'message'] })
  const nc = await connectFor(t, server.url)

  const steps = async (alice: string, bob: string): Promise<Record<string, string>> => {
    const anon = chatClients(nc)
    const out: Record<string, string> = {}
    out['register alice'] = await statusOf(anon.user.register({ username: alice, password: `${alice}-password` }))
    out['register bob'] = await statusOf(anon.user.register({ username: bob, password: `${bob}-password` }))
    out['register alice again'] = await statusOf(anon.user.register({ username: alice, password: 'another-password' }))
    out['register bad name'] = await statusOf(anon.user.register({ username: 'X!', password: 'whatever-password' }))
    out['login bob wrong password'] = await statusOf(anon.user.login({ username: bob, password: 'not-his-password' }))
    let token = ''
    out['login alice'] = await statusOf(anon.user.login({ username: alice, password: `${alice}-password` }).then((s) => (token = s.token)))
    out['send without session'] = await statusOf(anon.message.send({ to: bob, text: 'hi' }))
    const me = chatClients(nc, token)
    out['friend add bob'] = await statusOf(me.friend.add({ username: bob }))
    out['send to bob'] = await statusOf(me.message.send({ to: bob, text: 'hello from typescript' }))
    out['send to nobody'] = await statusOf(me.message.send({ to: 'nobody_here', text: 'hi' }))
    return out
  }
  const ts = await steps('ts_alice', 'ts_bob')
  const py = python(t, ['examples/chat_caller.py', server.url, 'py_alice', 'py_bob'])
  t.equal(await py.exited, 0, py.output())
  const fromPython = JSON.parse(py.output().trim().split('\n').at(-1)!) as Record<string, string>
  t.strictSame(fromPython, ts, 'the same status for every step')
  t.match(ts, {
    'register alice': 'OK',
    'register alice again': 'USERNAME_TAKEN',
    'register bad name': 'INVALID_ARGUMENT',
    'login bob wrong password': 'BAD_CREDENTIALS',
    'login alice': 'OK',
    'send to bob': 'OK',
  })
  // what Python sent is there for bob to read
  const bob = chatClients(nc, (await chatClients(nc).user.login({ username: 'py_bob', password: 'py_bob-password' })).token)
  const history = await bob.message.history({ with: 'py_alice' })
  t.match(history, [{ text: 'hello from python' }])
})

t.test('python - a Python worker serves the TypeScript typed client', async (t) => {
  const server = await serverFor(t)
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-python-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const infoFile = join(dir, 'pyshop-info.json')
  writeFileSync(
    infoFile,
    JSON.stringify(infoOf({ id: 'x', contract: Shop, started: new Date(), options: { prefix: 'rpc', queue: undefined }, stats: () => [] })),
  )
  const worker = python(t, ['examples/shop_worker.py', server.url, infoFile])
  const id = /pyshop worker (\S+) serving/.exec(await worker.waitFor(/serving/))![1]!
  const nc = await connectFor(t, server.url)
  const shop = client(nc, Shop, { timeout: 3_000 })

  t.test('python - OK', async (t) => {
    t.strictSame(await shop.price({ sku: 'ABC-1', qty: 4 }), { sku: 'ABC-1', total: 10 })
    t.strictSame(await shop.sleep({ ms: 10 }), { slept: 10 })
  })

  t.test('python - invalid input: refused by the client, and by the Python worker when sent raw', async (t) => {
    const client_ = await failureOf(shop.price({ sku: 'abc', qty: 0 }))
    t.equal(client_.code, 'INVALID_ARGUMENT')
    const raw = await nc.request('rpc.pyshop.price', encodeBody({ sku: 'abc', qty: 0 }), { timeout: 3_000 })
    const env = decodeEnvelope(raw.data) as { status: string; message: string; data: { issues: { path: string; message: string }[] } }
    t.equal(env.status, 'INVALID_ARGUMENT')
    t.match(env.data.issues, [{ path: '/sku' }, { path: '/qty' }])
    t.equal(raw.headers?.get('Nats-Service-Error-Code'), '400')
    t.match(raw.headers?.get('Nats-Service-Error'), /invalid input for pyshop\.price/)
    const junk = decodeEnvelope((await nc.request('rpc.pyshop.price', new Uint8Array([0xc1]), { timeout: 3_000 })).data)
    t.equal(junk?.status, 'INVALID_ARGUMENT', 'a body that is not msgpack')
    const unknown = await nc.request('rpc.pyshop.refund', encodeBody({}), { timeout: 3_000 })
    t.equal(decodeEnvelope(unknown.data)?.status, 'UNIMPLEMENTED')
    t.equal(unknown.headers?.get('Rpc-Unknown-Method'), 'refund')
  })

  t.test('python - a declared error with data, and a result that breaks the contract', async (t) => {
    const err = await failureOf(shop.price({ sku: 'NON-7', qty: 1 }))
    t.equal(err.code, 'OUT_OF_STOCK')
    t.equal(err.status, 409)
    t.strictSame(err.data, { sku: 'NON-7', left: 0 })
    t.equal((await failureOf(shop.price({ sku: 'BAD-1', qty: 1 }))).code, 'INTERNAL')
  })

  t.test('python - deadline: a handler past it is DEADLINE_EXCEEDED; a call that arrives past it does not run', async (t) => {
    const started = Date.now()
    t.equal(await statusOf(shop.sleep({ ms: 1_000 }, { timeout: 200 })), 'DEADLINE_EXCEEDED')
    t.ok(Date.now() - started < 900, 'at the deadline, not when the handler would be done')
    const late = await nc.request('rpc.pyshop.sleep', encodeBody({ ms: 0 }), {
      timeout: 3_000,
      headers: headersOf({ 'Rpc-Deadline': String(Date.now() - 10) }),
    })
    t.equal(decodeEnvelope(late.data)?.status, 'DEADLINE_EXCEEDED')
    t.equal(late.headers?.get('Nats-Service-Error-Code'), '504')
  })

  t.test('python - cancellation: an aborted call is CANCELLED', async (t) => {
    const ac = new AbortController()
    const p = shop.sleep({ ms: 2_000 }, { signal: ac.signal })
    setTimeout(() => ac.abort(), 50)
    const err = await failureOf(p)
    t.equal(err.code, 'CANCELLED')
    t.ok(err instanceof RpcError)
  })

  t.test('python - switchboard ls lists the Python worker: service, version and instance', async (t) => {
    const r = await cliIn(['ls', '--json'], { NATS_URL: server.url })
    t.equal(r.code, 0, r.stderr)
    const list = JSON.parse(r.stdout) as { name: string; versions?: string[]; ids: { id: string; version?: string; contract_hash?: string }[] }[]
    const mine = list.find((s) => s.name === 'pyshop')
    t.ok(mine, r.stdout)
    t.match(mine, { name: 'pyshop', ids: [{ id }] })
    t.match(r.stdout, /1\.2\.0/)
    const text = await cliIn(['ls'], { NATS_URL: server.url })
    t.match(text.stdout, /\npyshop\s+1\s+1\.2\.0\s/)
  })

  t.test('python - SIGTERM drains: every call started before the signal succeeds', async (t) => {
    const calls = Array.from({ length: 20 }, (_, i) =>
      shop.sleep({ ms: 300 + i * 10 }, { timeout: 5_000 }).then(
        () => 'OK',
        (e: RpcError) => e.code,
      ),
    )
    await delay(100) // all of them reached the worker
    worker.child.kill('SIGTERM')
    const statuses = await Promise.all(calls)
    t.strictSame(statuses, Array(20).fill('OK'), 'none failed')
    t.equal(await worker.exited, 0, worker.output())
    t.match(worker.output(), /draining[\s\S]*stopped/)
    t.equal(await statusOf(shop.sleep({ ms: 0 }, { timeout: 500 })), 'UNAVAILABLE', 'after it: no responders')
  })
})

const encodeBody = (v: unknown) => encode(v)
const decodeEnvelope = (b: Uint8Array) => decode(b) as { status: string; message?: string; data?: unknown } | undefined

function headersOf(record: Record<string, string>) {
  const h = headers()
  for (const [k, v] of Object.entries(record)) h.set(k, v)
  return h
}
