import t from 'tap'
import Type from 'typebox'
import {
  defineService,
  fingerprintOf,
  MicroMeta,
  mixOf,
  publishedSnapshot,
  Skew,
  skewOf,
  snapshotContract,
  snapshotFromInfo,
  type AnyContract,
  type MicroInfo,
} from 'switchboard'
import { infoOf } from 'switchboard/internal'
import { LedgerBroken, LedgerV1, LedgerV2 } from '../fixtures/ledger/worker.ts'

/** The `$SRV.INFO` reply a worker of `contract` with id `id` sends. */
const infoFor = (contract: AnyContract, id: string): MicroInfo =>
  infoOf({ id, contract, started: new Date(0), options: { prefix: 'rpc', queue: undefined }, stats: () => [] })

t.test('skew - fingerprints: stable per contract, different when a schema changes, published in INFO', async (t) => {
  const a = fingerprintOf(LedgerV1)
  t.equal(a, fingerprintOf(LedgerV1), 'computed once per contract object')
  t.match(a.contract, /^[0-9a-f]{16}$/)
  t.same(Object.keys(a.methods).sort(), ['add', 'get'])
  const b = fingerprintOf(LedgerV2)
  t.not(a.contract, b.contract)
  t.equal(a.methods.get, b.methods.get, 'an unchanged method keeps its hash')
  t.not(a.methods.add, b.methods.add)
  const info = infoFor(LedgerV2, 'x')
  t.equal(info.metadata[MicroMeta.ContractHash], b.contract)
  t.equal(info.endpoints.find((e) => e.name === 'count')!.metadata[MicroMeta.SchemaHash], b.methods.count)
})

t.test('skew - INFO read back as a snapshot is the contract as published', async (t) => {
  t.same(snapshotFromInfo(infoFor(LedgerV2, 'x')), publishedSnapshot(LedgerV2))
  t.same(publishedSnapshot(LedgerV2), snapshotContract(LedgerV2), 'without refinements the two are the same')
  const bare = { ...infoFor(LedgerV1, 'x'), endpoints: [{ name: 'add', subject: 'rpc.ledger.add', queue_group: 'ledger', metadata: {} }] }
  t.equal(snapshotFromInfo(bare), undefined, 'an endpoint without schemas: not a switchboard worker')
})

t.test('skew - each verdict of a client against an instance', async (t) => {
  const same = skewOf(LedgerV1, infoFor(LedgerV1, 'i1'))
  t.same({ skew: same.skew, missing: same.missing, changes: same.changes }, { skew: Skew.same, missing: [], changes: [] })

  const newer = skewOf(LedgerV1, infoFor(LedgerV2, 'i2'))
  t.equal(newer.skew, Skew.compatible, 'a v1 client of a v2 worker: an old caller of a compatible evolution')
  t.same([newer.version, newer.localVersion, newer.instance], ['1.1.0', '1.0.0', 'i2'])

  const older = skewOf(LedgerV2, infoFor(LedgerV1, 'i3'))
  t.equal(older.skew, Skew.behind, 'a v2 client of a v1 worker: the worker is behind')
  t.same(older.missing, ['count'])
  t.ok(
    older.changes.some((c) => c.where === 'ledger.count'),
    'the changes say why',
  )

  const broken = skewOf(LedgerV1, infoFor(LedgerBroken, 'i4'))
  t.equal(broken.skew, Skew.breaking)
  t.same(broken.missing, ['get'])
  t.ok(broken.changes.some((c) => /add input/.test(c.where) && c.verdict === 'breaking'))

  const Patterned = (pattern: string) =>
    defineService('p', { version: '1.0.0', methods: { m: { input: Type.Object({ s: Type.String({ pattern }) }), output: Type.Object({}) } } })
  t.equal(skewOf(Patterned('^a'), infoFor(Patterned('^b'), 'i5')).skew, Skew.unknown, 'a changed pattern cannot be judged')

  const Refined = (n: number) =>
    defineService('r', {
      version: '1.0.0',
      methods: { m: { input: Type.Refine(Type.Object({ n: Type.Number() }), (v) => v.n > n), output: Type.Object({}) } },
    })
  const refined = skewOf(Refined(1), infoFor(withRefines(Refined(1), 2), 'i6'))
  t.equal(refined.skew, Skew.unknown, 'hashes differ but the published schemas do not: what INFO cannot show changed')

  const bare = { ...infoFor(LedgerV1, 'i7'), endpoints: [{ name: 'add', subject: 'rpc.ledger.add', queue_group: 'ledger', metadata: {} }] }
  t.equal(skewOf(LedgerV1, bare).skew, Skew.unknown, 'no schemas: unknown, never safe')
})

/** A contract whose `m` input carries `count` refinements (its hash differs from one with a single refinement). */
function withRefines(c: AnyContract, count: number): AnyContract {
  const input = c.methods.m!.input
  let r = input
  for (let i = 1; i < count; i++) r = Type.Refine(r as never, () => true) as never
  return defineService(c.name, { version: c.version, methods: { m: { ...c.methods.m!, input: r } } })
}

t.test('skew - a mix of instances: single, compatible steps, breaking steps', async (t) => {
  const one = mixOf('ledger', [infoFor(LedgerV1, 'a'), infoFor(LedgerV1, 'b')])
  t.equal(one.verdict, 'single')
  t.same(
    one.variants.map((v) => v.instances),
    [['a', 'b']],
  )
  const rolling = mixOf('ledger', [infoFor(LedgerV2, 'c'), infoFor(LedgerV1, 'a'), infoFor(LedgerV1, 'b')])
  t.equal(rolling.verdict, 'compatible')
  t.same(
    rolling.variants.map((v) => [v.version, v.instances]),
    [
      ['1.0.0', ['a', 'b']],
      ['1.1.0', ['c']],
    ],
    'oldest version first',
  )
  const bad = mixOf('ledger', [infoFor(LedgerV1, 'a'), infoFor(LedgerBroken, 'z')])
  t.equal(bad.verdict, 'breaking')
  t.match(bad.changes[0]!.detail, /^1\.0\.0 → 1\.1\.0: /)
})
