import type { NatsConnection } from '@nats-io/nats-core'
import t, { type Test } from 'tap'
import { client, decodeEnvelope, encodeBody, Header, isRpcError, type RpcError, Skew, type SkewReport, type Worker } from 'switchboard'
import { balancerOf, DEFAULT_BALANCE } from 'switchboard/internal'
import { connectFor, delay, failureOf, serverFor } from '../harness/index.ts'
import { createLedgerStream, LedgerBroken, LedgerV1, LedgerV2, startLedger, type LedgerVersion } from '../fixtures/ledger/worker.ts'

/** Starts ledger workers of `version`, one connection each (as separate processes would have), stopped at teardown. */
async function workers(t: Test, url: string, version: LedgerVersion, tags: string[]): Promise<Worker[]> {
  return Promise.all(
    tags.map(async (tag) => {
      const nc = await connectFor(t, url)
      const w = await startLedger(nc, version, tag, { instanceId: `${version}-${tag}` })
      t.teardown(() => w.stop())
      return w
    }),
  )
}

async function setup(t: Test): Promise<{ url: string; nc: NatsConnection }> {
  const server = await serverFor(t)
  const nc = await connectFor(t, server.url)
  await createLedgerStream(nc)
  return { url: server.url, nc }
}

t.test('rollout - an older worker answers a method it lacks as unknown, on the queue group and on its own subject', async (t) => {
  const { url, nc } = await setup(t)
  await workers(t, url, 'v1', ['a'])
  const viaQueue = await nc.request('rpc.ledger.count', encodeBody({}), { timeout: 2_000 })
  t.same(decodeEnvelope(viaQueue.data), { status: 'UNIMPLEMENTED', message: "ledger 1.0.0 has no method 'count'" })
  t.equal(viaQueue.headers?.get(Header.UnknownMethod), 'count', 'the call did not run: marked so')
  t.equal(viaQueue.headers?.get(Header.Instance), 'v1-a', 'and it names its instance')
  const direct = await nc.request('rpc.ledger.count.v1-a', encodeBody({}), { timeout: 2_000 })
  t.equal(decodeEnvelope(direct.data)?.status, 'UNIMPLEMENTED', 'a direct call to a method it lacks: answered, not "no responders"')
  t.equal(direct.headers?.get(Header.UnknownMethod), 'count')
  const served = await nc.request('rpc.ledger.get.v1-a', encodeBody({ seq: 1 }), { timeout: 2_000 })
  t.equal(decodeEnvelope(served.data)?.status, 'NOT_FOUND', 'a method it has is still served on its own subject')
  t.notOk(served.headers?.has(Header.UnknownMethod))

  const v2 = client(nc, LedgerV2)
  const err = await failureOf(v2.count({}))
  t.equal(err.code, 'UNIMPLEMENTED', 'with no instance that serves it, the caller gets UNIMPLEMENTED')
})

t.test('rollout - a new method is routed to the instances that serve it while older ones share the queue group', async (t) => {
  const { url } = await setup(t)
  await workers(t, url, 'v1', ['a', 'b', 'c'])
  const nc2 = await connectFor(t, url)
  const v2 = client(nc2, LedgerV2, { timeout: 2_000 })
  for (let i = 0; i < 40; i++) await v2.add({ text: `warm ${i}`, tag: 'early' }) // v1 workers ignore the field they lack
  await workers(t, url, 'v2', ['d'])
  const outcomes = await Promise.all(
    Array.from({ length: 400 }, (_, i) =>
      v2.count({}).then(
        (r) => (r.count >= 40 ? 'OK' : `short ${r.count} at ${i}`),
        (e: RpcError) => e.code,
      ),
    ),
  )
  const codes: Record<string, number> = {}
  for (const o of outcomes) codes[o] = (codes[o] ?? 0) + 1
  t.same(codes, { OK: 400 }, 'every call of the new method reached the v2 worker')
  const b = balancerOf(nc2, 'rpc.ledger', DEFAULT_BALANCE)
  t.ok(b.contested('count'), 'the balancer knows some instances lack it')
  for (let i = 0; i < 50; i++) {
    const r = await v2.count({})
    t.ok(r.count >= 40)
  }
  t.equal(outcomes.length, 400)
})

t.test('rollout - what a v1 client gets from a v2 worker: its calls served, a new declared error by code and status', async (t) => {
  const { url, nc } = await setup(t)
  await workers(t, url, 'v2', ['a'])
  const v1 = client(nc, LedgerV1)
  const { seq } = await v1.add({ text: 'from v1' })
  t.same(await v1.get({ seq }), { text: 'from v1' })
  const v2 = client(nc, LedgerV2)
  const err = await failureOf(v2.add({ text: 'x', tag: 'reserved' }))
  t.equal(err.code, 'TAG_REFUSED')
  t.equal(err.status, 422, 'a v2 caller knows the code')
  t.ok(isRpcError(err, LedgerV2, 'add'))
  t.notOk(isRpcError(err, LedgerV1, 'add'), 'a v1 caller does not declare it, and handles it by its status')
})

t.test('rollout - the skew watch reports each instance once, with its verdict, and steers methods away from older ones', async (t) => {
  const { url } = await setup(t)
  await workers(t, url, 'v1', ['a'])
  await workers(t, url, 'v2', ['b'])
  await workers(t, url, 'broken', ['c'])
  const logged: { level: string; msg: string | undefined; obj: object }[] = []
  const at =
    (level: string) =>
    (obj: object, msg?: string): void =>
      void logged.push({ level, obj, msg })
  const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
  const watch = async (contract: typeof LedgerV1 | typeof LedgerV2): Promise<SkewReport[]> => {
    const reports: SkewReport[] = []
    const nc = await connectFor(t, url)
    const c = client(nc, contract, { skew: { logger, onSkew: (r) => reports.push(r), intervalMs: 100, wait: 300 } })
    await c.get({ seq: 1 }).catch(() => undefined)
    for (let i = 0; i < 50 && reports.length < 2; i++) await delay(50)
    await delay(400) // two more rounds of INFO: still one report per instance
    return reports.sort((x, y) => x.instance.localeCompare(y.instance))
  }
  const fromV1 = await watch(LedgerV1)
  t.same(
    fromV1.map((r) => [r.instance, r.skew]),
    [
      ['v2-b', Skew.compatible],
      ['broken-c', Skew.breaking],
    ].sort((x, y) => x[0]!.localeCompare(y[0]!)),
    'a v1 client: v2 is compatible, the breaking one is flagged; its own version is not reported',
  )
  t.ok(
    logged.some((l) => l.level === 'error' && /broken-c runs contract 1\.1\.0, incompatible with this client's 1\.0\.0: ledger\.add input/.test(l.msg ?? '')),
    'a breaking skew is logged as an error, with the change',
  )
  const fromV2 = await watch(LedgerV2)
  const behind = fromV2.find((r) => r.instance === 'v1-a')
  t.equal(behind?.skew, Skew.behind, 'a v2 client: the v1 worker is behind')
  t.same(behind?.missing, ['count'])
  t.ok(logged.some((l) => l.level === 'warn' && /v1-a runs contract 1\.0\.0, older than this client's 1\.1\.0: it lacks count/.test(l.msg ?? '')))
})

t.test('rollout - a client with skew on makes no request before its first call', async (t) => {
  const { url } = await setup(t)
  const nc = await connectFor(t, url)
  const seen: string[] = []
  const spy = await connectFor(t, url)
  spy.subscribe('$SRV.INFO.>', { callback: (_, m) => void seen.push(m.subject) })
  await spy.flush()
  const c = client(nc, LedgerV1, { skew: { intervalMs: 50 } })
  await delay(200)
  t.same(seen, [], 'nothing asked on construction')
  await c.get({ seq: 1 }).catch(() => undefined)
  for (let i = 0; i < 40 && seen.length === 0; i++) await delay(25)
  t.same(seen.slice(0, 1), ['$SRV.INFO.ledger'], 'the first call starts the watch')
  t.throws(() => client(nc, LedgerV1, { skew: { intervalMs: 0 } }), /skew\.intervalMs must be a finite, positive number/)
  t.ok(LedgerBroken)
})
