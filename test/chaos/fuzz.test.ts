import { readFileSync } from 'node:fs'
import { headers as natsHeaders, type NatsConnection } from '@nats-io/nats-core'
import t, { type Test } from 'tap'
import { client, decodeEnvelope, RpcError, type AnyContract } from 'switchboard'
import { Admin } from '../../services/admin/contract.ts'
import { Friend } from '../../services/friend/contract.ts'
import { Group } from '../../services/group/contract.ts'
import { MessageService } from '../../services/message/contract.ts'
import { User } from '../../services/user/contract.ts'
import { connectFor, serverFor } from '../harness/index.ts'
import { startSystem } from '../harness/system.ts'
import { Echo } from '../fixtures/echo-contract.ts'
import { formatFaultTable, type FaultRow } from '../fixtures/fault-table.ts'
import { fittingCodes, fuzzCases, type FuzzCase } from '../fixtures/fuzz-cases.ts'
import { spawnEcho } from '../fixtures/spawn-process.ts'

/** Malformed requests per service (spread over all its methods); FUZZ_PER_SERVICE overrides. */
const PER_SERVICE = Number(process.env.FUZZ_PER_SERVICE ?? 10_000)
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000)
/** How much a worker's RSS may grow from one fuzz batch to the next (median against median), after warm-up. */
const RSS_BOUND_MB = 96
const RSS_SAMPLE_MS = 50

// 60,000 requests plus six worker processes: more than tap's default 120 s on a busy 2-core machine.
t.setTimeout(300_000)

const rows: FaultRow[] = []
t.teardown(() => {
  if (rows.length > 0) console.log(`\nfuzz table (seed ${SEED}, ${PER_SERVICE} per service)\n${formatFaultTable(rows)}\n`)
})

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? NaN : Number(m[1]) / 1024
}

/**
 * `work`'s result, and the median RSS of each of `pids` sampled every RSS_SAMPLE_MS while it ran. A single sample
 * lands anywhere in the ±60 MB the heap breathes by while decoding near-max_payload bodies; a leak moves the median
 * of a whole batch.
 */
async function withRss<T>(pids: number[], work: () => Promise<T>): Promise<{ result: T; medians: number[] }> {
  const samples: number[][] = pids.map((pid) => [rssMb(pid)])
  const sample = () => {
    for (const [i, pid] of pids.entries()) samples[i]!.push(rssMb(pid))
  }
  const timer = setInterval(sample, RSS_SAMPLE_MS)
  try {
    const result = await work()
    sample()
    return { result, medians: samples.map((s) => s.sort((a, b) => a - b)[Math.floor(s.length / 2)]!) }
  } finally {
    clearInterval(timer)
  }
}

interface FuzzResult {
  sent: number
  replies: number
  codes: Record<string, number>
  /** requests whose reply was missing, undecodable or carried a code that does not fit. */
  misfits: string[]
  /** deepNesting requests answered INTERNAL instead of being refused as INVALID_ARGUMENT. */
  deepInternal: number
}

/** Methods of the echo fixture that throw on purpose (INTERNAL is their contract). */
const THROWS_ON_PURPOSE = new Set(['rpc.echo.fail'])

async function fire(nc: NatsConnection, cases: readonly FuzzCase[], concurrency = 32): Promise<FuzzResult> {
  const r: FuzzResult = { sent: 0, replies: 0, codes: {}, misfits: [], deepInternal: 0 }
  let next = 0
  const lane = async () => {
    while (next < cases.length) {
      const c = cases[next++]!
      r.sent++
      const h = natsHeaders()
      for (const [k, v] of Object.entries(c.headers)) h.set(k, v)
      let code: string
      try {
        const reply = await nc.request(c.subject, c.body, { timeout: 10_000, headers: h })
        r.replies++
        const env = decodeEnvelope(reply.data)
        code = env === undefined ? 'UNDECODABLE' : env.status
      } catch (err) {
        code = `NO_REPLY:${(err as Error).message}`
      }
      r.codes[code] = (r.codes[code] ?? 0) + 1
      const fit = fittingCodes(c.kind, c.valid)
      if (c.kind === 'deepNesting' && code === 'INTERNAL') {
        r.deepInternal++
        continue
      }
      if (code === 'INTERNAL' && c.valid && THROWS_ON_PURPOSE.has(c.subject)) continue
      const ok = code.startsWith('NO_REPLY') || code === 'UNDECODABLE' ? false : fit === 'any-but-internal' ? code !== 'INTERNAL' : fit.includes(code)
      if (!ok && r.misfits.length < 20) r.misfits.push(`${c.kind} ${c.subject} valid=${c.valid} -> ${code}`)
      else if (!ok) r.misfits.push('')
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane))
  return r
}

/** Fuzzes one service whose workers run as `pids`; `alive` proves afterwards that it still serves. */
async function fuzzService(t: Test, nc: NatsConnection, contract: AnyContract, pids: number[], alive: () => Promise<unknown>) {
  await fire(nc, fuzzCases(contract, 3_000, SEED + 1), 32) // warm-up: JIT, buffers, pools
  // Memory is judged batch against batch: the first one grows the heap to fit the huge bodies it decodes (V8 keeps
  // that space); a leak keeps growing batch after batch, and moves the second batch's median RSS above the first's.
  const { result: res, medians: before } = await withRss(pids, () => fire(nc, fuzzCases(contract, PER_SERVICE, SEED)))
  const { result: again, medians: after } = await withRss(pids, () => fire(nc, fuzzCases(contract, PER_SERVICE, SEED + 2)))
  let growth = Math.max(...after.map((a, i) => a - before[i]!))
  let confirm = ''
  if (growth >= RSS_BOUND_MB) {
    // A step can also be V8 keeping a heap it grew for a burst of near-max_payload bodies (seen in CI: one module's
    // median RSS stepped up once, by 100-340 MB, and stayed). A leak grows again over a third batch; a step does not.
    const { medians: third } = await withRss(pids, () => fire(nc, fuzzCases(contract, PER_SERVICE, SEED + 3)))
    const step = growth
    growth = Math.max(...third.map((m, i) => m - after[i]!))
    confirm = `; stepped ${step.toFixed(0)} MB, batch 2 -> 3 ${growth.toFixed(0)} MB`
  }
  t.equal(again.replies, again.sent, 'the second batch is answered in full too')
  rows.push({
    scenario: `fuzz ${contract.name} (${Object.keys(contract.methods).length} methods)`,
    calls: res.sent,
    failed: res.misfits.length,
    lost: res.sent - res.replies,
    codes: res.codes,
    note: `${res.deepInternal ? `deep-nesting INTERNAL ${res.deepInternal}; ` : ''}median RSS batch 1 -> 2 ${before.map((b) => Math.round(b)).join('/')} -> ${after.map((a) => Math.round(a)).join('/')} MB${confirm}`,
  })
  t.equal(res.sent, PER_SERVICE)
  t.equal(res.replies, res.sent, 'every malformed request got a reply')
  t.same(res.misfits.filter(Boolean), [], 'every reply is an error envelope with a fitting code (OK only for schema-valid input)')
  t.equal(res.deepInternal, 0, 'deeply nested input is refused as INVALID_ARGUMENT, not run and answered INTERNAL')
  t.ok(growth < RSS_BOUND_MB, `memory flat: worst growth of the median RSS from one batch to the next ${growth.toFixed(1)} MB < ${RSS_BOUND_MB} MB${confirm}`)
  await alive()
  t.pass(`${contract.name} still serves`)
}

/** Whether a call came back from a worker (any RpcError but UNAVAILABLE/DEADLINE_EXCEEDED means a worker answered). */
async function answered(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'OK'
  } catch (err) {
    if (err instanceof RpcError && err.code !== 'UNAVAILABLE' && err.code !== 'DEADLINE_EXCEEDED') return err.code
    throw err
  }
}

t.test('fuzz - malformed requests to every method of the echo service and of every chat module', async (t) => {
  t.comment(`seed ${SEED} (replay with FUZZ_SEED=${SEED})`)
  const server = await serverFor(t)
  const echoProc = await spawnEcho(t, server.url, 'f1')
  const system = await startSystem(t, { natsUrl: server.url })
  const nc = await connectFor(t, server.url)

  t.test('fuzz - echo', async (t) => {
    const echo = client(nc, Echo, { timeout: 3_000 })
    await fuzzService(t, nc, Echo, [echoProc.child.pid!], async () => t.same(await echo.echo({ text: 'alive' }), { text: 'alive', worker: 'f1' }))
    t.equal(echoProc.child.exitCode, null, 'the echo worker process is still running')
  })

  const chat: [AnyContract, () => Promise<string>][] = [
    [User, () => answered(client(nc, User).register({ username: `fz${SEED}`, password: 'fuzz-password' }))],
    [Friend, () => answered(client(nc, Friend).list({}))],
    [Group, () => answered(client(nc, Group).mine({}))],
    [MessageService, () => answered(client(nc, MessageService).$call(Object.keys(MessageService.methods)[0]!, {}))],
    [Admin, () => answered(client(nc, Admin).$call(Object.keys(Admin.methods)[0]!, {}))],
  ]
  for (const [contract, alive] of chat) {
    t.test(`fuzz - ${contract.name}`, async (t) => {
      const procs = system.workers[contract.name as keyof typeof system.workers] ?? []
      t.ok(procs.length > 0, `${contract.name} runs`)
      await fuzzService(
        t,
        nc,
        contract,
        procs.map((p) => p.child.pid!),
        async () => t.match(await alive(), /^[A-Z_]+$/),
      )
      t.same(
        procs.map((p) => p.child.exitCode),
        procs.map(() => null),
        `every ${contract.name} process is still running`,
      )
    })
  }

  t.test('fuzz - oversized payloads are refused client-side before sending and never reach a worker', async (t) => {
    const seen: string[] = []
    const spy = nc.subscribe('rpc.>', { callback: (_e, m) => void (m.data.length > 900_000 && seen.push(m.subject)) })
    await nc.flush()
    const max = nc.info!.max_payload
    const echo = client(nc, Echo)
    const big = 'x'.repeat(max + 1)
    await t.rejects(echo.echo({ text: big }), { code: 'RESOURCE_EXHAUSTED' })
    await t.rejects(echo.echo({ text: 'small' }, { headers: { 'X-Big': 'h'.repeat(max) } }), { code: 'RESOURCE_EXHAUSTED' }, 'headers count too')
    await t.rejects(client(nc, User).register({ username: 'bigbody', password: 'p'.repeat(max) } as never), { code: /INVALID_ARGUMENT|RESOURCE_EXHAUSTED/ })
    t.throws(() => nc.publish('rpc.echo.echo', new Uint8Array(max + 1)), /max_payload|payload/i, 'raw publish refused by nats.js')
    await nc.flush()
    spy.unsubscribe()
    t.same(seen, [], 'nothing oversized was sent')
    t.same(await echo.echo({ text: 'alive' }), { text: 'alive', worker: 'f1' })
  })
})
