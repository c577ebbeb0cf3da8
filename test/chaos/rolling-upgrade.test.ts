/**
 * Issue 17, part 5: a rolling upgrade of a module under load, and its rollback, with worker processes. Three v1
 * workers serve the ledger; three v2 workers (an additive change: a new optional input field, a new method, a new
 * declared error) start beside them, then the v1 ones stop one by one; then the reverse. A v1 and a v2 client call
 * all along, idempotent methods and not. Every call must succeed and every acknowledged write must be stored once.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import t, { type Test } from 'tap'
import { client, RpcError, Skew, type Client, type SkewReport } from 'switchboard'
import { balancerOf, cliMain, DEFAULT_BALANCE } from 'switchboard/internal'
import { connectFor, delay, serverFor } from '../harness/index.ts'
import type { SpawnedProcess } from '../harness/process.ts'
import { formatFaultTable, type FaultRow } from '../fixtures/fault-table.ts'
import { spawnNode } from '../fixtures/spawn-process.ts'
import { createLedgerStream, ledgerEntries, LedgerV1, LedgerV2, type LedgerVersion } from '../fixtures/ledger/worker.ts'

const rows: FaultRow[] = []
t.teardown(() => {
  if (rows.length > 0) console.log(`\nfault table (rolling upgrade)\n${formatFaultTable(rows)}\n`)
})

const FIXTURES = resolve(import.meta.dirname, '../fixtures/ledger')
const CALL_TIMEOUT_MS = 5_000
/** A call not settled this long after it started counts as hung (lost). */
const HUNG_MS = CALL_TIMEOUT_MS + 3_000

const spawnLedger = (t: Test, url: string, version: LedgerVersion, tag: string) =>
  spawnNode(t, 'test/fixtures/ledger/process.ts', { NATS_URL: url, LEDGER_VERSION: version, LEDGER_TAG: tag })

/** SIGTERM (a graceful stop), then the exit code and how many calls the worker had served. */
async function stop(p: SpawnedProcess): Promise<{ code: number | null; served: number }> {
  p.child.kill('SIGTERM')
  const code = await p.exited
  return { code, served: Number(/stopped \S+ served=(\d+)/.exec(p.output())?.[1] ?? -1) }
}

/** Calls made by one phase, kept per phase for the table. */
interface Tally {
  calls: number
  failed: number
  hung: number
  wrong: number
  codes: Record<string, number>
  byMethod: Record<string, number>
}
const tally = (): Tally => ({ calls: 0, failed: 0, hung: 0, wrong: 0, codes: {}, byMethod: {} })

/**
 * Closed-loop lanes of calls from a v1 and a v2 client until stopped: each lane adds an entry (not idempotent) and
 * reads it back (idempotent); v2 lanes send the new `tag` field and, while `count` is on, call the new method.
 */
class Load {
  phase: Tally = tally()
  count = false
  readonly added: { seq: number; text: string }[] = []
  #running = true
  #lanes: Promise<void>[] = []
  #n = 0

  constructor(
    readonly v1: Client<typeof LedgerV1>,
    readonly v2: Client<typeof LedgerV2>,
    lanes: number,
  ) {
    for (let i = 0; i < lanes; i++) this.#lanes.push(this.#lane(i % 2 === 0 ? 'v1' : 'v2'))
  }

  /** Ends the current phase and starts a new one; returns the ended one. */
  next(): Tally {
    const p = this.phase
    this.phase = tally()
    return p
  }

  async stop(): Promise<void> {
    this.#running = false
    await Promise.all(this.#lanes)
  }

  async #lane(who: 'v1' | 'v2'): Promise<void> {
    while (this.#running) {
      const text = `${who}-${this.#n++}`
      const added = await this.#call('add', () => (who === 'v1' ? this.v1.add({ text }) : this.v2.add({ text, tag: 'rollout' })))
      if (added !== undefined) {
        this.added.push({ seq: added.seq, text })
        await this.#call('get', async () => ((await (who === 'v1' ? this.v1 : this.v2).get({ seq: added.seq })).text === text ? true : 'wrong'))
      }
      if (who === 'v2' && this.count) await this.#call('count', async () => ((await this.v2.count({})).count > 0 ? true : 'wrong'))
      await delay(4)
    }
  }

  async #call<T>(method: string, f: () => Promise<T>): Promise<T | undefined> {
    const p = this.phase
    p.calls++
    p.byMethod[method] = (p.byMethod[method] ?? 0) + 1
    let timer: ReturnType<typeof setTimeout> | undefined
    const hung = new Promise<'hung'>((r) => (timer = setTimeout(r, HUNG_MS, 'hung')))
    try {
      const out = await Promise.race([f(), hung])
      if (out === 'hung') p.hung++
      else if (out === 'wrong') p.wrong++
      else return out as T
    } catch (err) {
      p.failed++
      const code = err instanceof RpcError ? err.code : `THROWN:${(err as Error)?.message}`
      p.codes[code] = (p.codes[code] ?? 0) + 1
    } finally {
      clearTimeout(timer)
    }
    return undefined
  }
}

function row(scenario: string, p: Tally, note: string): FaultRow {
  const methods = Object.entries(p.byMethod)
    .map(([m, n]) => `${m} ${n}`)
    .join(', ')
  return { scenario, calls: p.calls, failed: p.failed, lost: p.hung + p.wrong, codes: p.codes, note: `${methods}; ${note}` }
}

t.test('rolling upgrade - v1 → v2 and back under load, worker by worker: no call fails, no write is lost', async (t) => {
  const server = await serverFor(t)
  const admin = await connectFor(t, server.url)
  const jsm = await createLedgerStream(admin)
  const v1Workers = await Promise.all(['v1-a', 'v1-b', 'v1-c'].map((tag) => spawnLedger(t, server.url, 'v1', tag)))
  const skews: SkewReport[] = []
  const quiet = { debug() {}, info() {}, warn() {}, error() {} }
  const skew = { logger: quiet, onSkew: (r: SkewReport) => void skews.push(r), intervalMs: 1_000 }
  const nc1 = await connectFor(t, server.url)
  const nc2 = await connectFor(t, server.url)
  const v1 = client(nc1, LedgerV1, { timeout: CALL_TIMEOUT_MS, skew })
  const v2 = client(nc2, LedgerV2, { timeout: CALL_TIMEOUT_MS, skew })
  const load = new Load(v1, v2, 8)
  t.teardown(() => load.stop())
  await delay(1_000)
  const before = load.next()
  rows.push(row('3 × v1, a v1 and a v2 client', before, 'the v2 client sends tag; v1 ignores it'))

  // roll forward: v2 beside v1, then the v1 workers go one by one
  const v2Workers = await Promise.all(['v2-a', 'v2-b', 'v2-c'].map((tag) => spawnLedger(t, server.url, 'v2', tag)))
  load.count = true
  await delay(1_000)
  const mixed = load.next()
  t.ok(balancerOf(nc2, 'rpc.ledger', DEFAULT_BALANCE).contested('count'), 'the v2 client knows which instances lack count')
  rows.push(row('+ 3 × v2 (3 v1 still up)', mixed, 'count only on v2'))
  const stoppedV1 = []
  for (const w of v1Workers) {
    stoppedV1.push(await stop(w))
    await delay(600)
  }
  await delay(500)
  const forward = load.next()
  rows.push(row('SIGTERM the 3 v1, one by one', forward, 'rolled forward'))

  // roll back: v1 beside v2; the callers of count go first, then the v2 workers one by one
  const v1Again = await Promise.all(['v1-d', 'v1-e', 'v1-f'].map((tag) => spawnLedger(t, server.url, 'v1', tag)))
  await delay(1_000)
  const back = load.next()
  rows.push(row('+ 3 × v1 again (3 v2 up)', back, 'count only on v2'))
  const stoppedV2 = []
  for (const [i, w] of v2Workers.entries()) {
    if (i === v2Workers.length - 1) load.count = false // the new method's callers roll back before its last worker goes
    stoppedV2.push(await stop(w))
    await delay(600)
  }
  await delay(500)
  await load.stop()
  const rolledBack = load.next()
  rows.push(row('SIGTERM the 3 v2, one by one', rolledBack, 'rolled back; count stops before the last v2 goes'))

  for (const [name, p] of Object.entries({ before, mixed, forward, back, rolledBack })) {
    t.ok(p.calls > 100, `${name}: under load (${p.calls} calls)`)
    t.equal(p.failed, 0, `${name}: no call failed (${JSON.stringify(p.codes)})`)
    t.equal(p.hung, 0, `${name}: no call hung`)
    t.equal(p.wrong, 0, `${name}: every read matched its write`)
  }
  t.ok((mixed.byMethod.count ?? 0) > 20 && (back.byMethod.count ?? 0) > 20, 'the new method was called while v1 and v2 served side by side')
  for (const s of [...stoppedV1, ...stoppedV2]) {
    t.equal(s.code, 0, 'each stopped worker exited cleanly')
    t.ok(s.served > 0, `and had served calls (${s.served})`)
  }
  const stored = await ledgerEntries(jsm)
  t.equal(stored.size, load.added.length, `every acknowledged add is stored exactly once (${load.added.length})`)
  t.same(
    load.added.filter((a) => stored.get(a.seq) !== a.text),
    [],
    'each at the sequence its caller was told',
  )
  const by = (who: string, skew: Skew) => new Set(skews.filter((r) => r.localVersion === who && r.skew === skew).map((r) => r.instance))
  t.same([...by('1.0.0', Skew.compatible)].sort(), ['v2-a', 'v2-b', 'v2-c'], 'the v1 client saw each v2 worker once, as compatible')
  t.ok(by('1.1.0', Skew.behind).size >= 3, 'the v2 client saw the v1 workers as behind')
  t.equal(skews.filter((r) => r.skew === Skew.breaking || r.skew === Skew.unknown).length, 0, 'no breaking skew')
  for (const w of v1Again) await stop(w)
})

t.test('rolling upgrade - a breaking v2 is refused by contracts check before it runs', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-rollout-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const lock = join(dir, 'contracts.lock.json')
  let out = ''
  const io = { out: (s: string) => void (out += `${s}\n`), err: (s: string) => void (out += `${s}\n`) }
  t.equal(await cliMain(['contracts', 'snapshot', '--dir', join(FIXTURES, 'v1'), '--out', lock], {}, io), 0, 'v1 locked')
  out = ''
  t.equal(await cliMain(['contracts', 'check', '--dir', join(FIXTURES, 'v2-breaking'), '--lock', lock], {}, io), 1, 'check refuses the breaking v2')
  t.match(out, /breaking\s+major\s+ledger\.add input: \/text: strings longer than 50 characters/)
  t.match(out, /breaking\s+major\s+ledger\.get: method removed/)
  t.match(out, /these changes need version 2\.0\.0 or later \(it is 1\.1\.0/)
  out = ''
  t.equal(await cliMain(['contracts', 'diff', lock, join(dir, 'v2.json')], {}, io), 2, 'a missing file is a usage error')
  t.equal(await cliMain(['contracts', 'snapshot', '--dir', join(FIXTURES, 'v2'), '--out', join(dir, 'v2.json')], {}, io), 0)
  out = ''
  t.equal(await cliMain(['contracts', 'diff', lock, join(dir, 'v2.json')], {}, io), 0, 'the additive v2 the rollout runs is compatible')
  t.notMatch(out, /breaking|unknown/)
})
