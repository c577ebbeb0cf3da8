import t from 'tap'
import Type from 'typebox'
import { defineService, diffSnapshots, fingerprintOf, isStreamMethod, MicroMeta, publishedSnapshot, snapshotContract, snapshotOf, Verdict } from 'switchboard'
import { endpointMetadata, validatorsOf } from 'switchboard/internal'
import { Feed } from '../fixtures/stream-contract.ts'

const Item = Type.Object({ i: Type.Integer() })

t.test('stream-contract - a method declares an output or a stream, not both, not neither', async (t) => {
  t.ok(isStreamMethod(Feed.methods.count))
  t.notOk(isStreamMethod(Feed.methods.echo))
  const both = { input: Type.Object({}), output: Item, stream: Item }
  t.throws(() => defineService('s', { version: '1.0.0', methods: { m: both } }), /either an output or a stream schema/)
  t.throws(() => defineService('s', { version: '1.0.0', methods: { m: { input: Type.Object({}) } as never } }), /either an output or a stream schema/)
  t.ok(validatorsOf(Feed.methods.count).output.Check({ i: 1 }), "a stream method's output validator checks one item")
  t.notOk(validatorsOf(Feed.methods.count).output.Check({ i: 'x' }))
})

t.test('stream-contract - snapshots keep a stream schema; unary methods keep theirs as before', async (t) => {
  const s = snapshotContract(Feed)
  t.ok(s.methods.count?.stream !== undefined && s.methods.count.output === undefined)
  t.ok(s.methods.echo?.output !== undefined && s.methods.echo.stream === undefined)
  t.same(Object.keys(s.methods.echo!), ['description', 'idempotent', 'input', 'output', 'errors'], 'the unary snapshot (and so its hash) is unchanged')
  const unaryOnly = defineService('u', { version: '1.0.0', methods: { echo: Feed.methods.echo } })
  t.equal(fingerprintOf(unaryOnly).methods.echo, fingerprintOf(Feed).methods.echo)
})

t.test('stream-contract - diff: turning a method into a stream (or back) is breaking; items narrow like outputs', async (t) => {
  const v = (version: string, m: object) => snapshotOf([defineService('svc', { version, methods: { m: { input: Type.Object({}), ...m } as never } })])
  const verdicts = (a: object, b: object) => diffSnapshots(v('1.0.0', a), v('2.0.0', b)).flatMap((d) => d.changes.map((c) => [c.verdict, c.detail]))
  t.match(verdicts({ output: Item }, { stream: Item }), [[Verdict.breaking, /now a stream method/]])
  t.match(verdicts({ stream: Item }, { output: Item }), [[Verdict.breaking, /no longer a stream method/]])
  const wide = Type.Object({ i: Type.Integer(), note: Type.Optional(Type.String()) })
  t.match(verdicts({ stream: Item }, { stream: Type.Object({ i: Type.Integer({ minimum: 0 }) }) }), [[Verdict.compatible, /narrowed/]])
  t.match(verdicts({ stream: Type.Object({ i: Type.Integer() }, { additionalProperties: false }) }, { stream: wide }), [[Verdict.breaking, /./]])
  t.same(verdicts({ stream: Item }, { stream: Item }), [])
})

t.test('stream-contract - $SRV.INFO names a stream schema instead of an output schema, and reads back the same', async (t) => {
  const meta = endpointMetadata(Feed.methods.count)
  t.ok(meta[MicroMeta.Stream] !== undefined && meta[MicroMeta.Output] === undefined)
  t.same(JSON.parse(meta[MicroMeta.Stream]!), JSON.parse(JSON.stringify(Feed.methods.count.stream)))
  t.ok(endpointMetadata(Feed.methods.echo)[MicroMeta.Output] !== undefined)
  const published = publishedSnapshot(Feed)
  t.ok(published.methods.count?.stream !== undefined, 'a stream method is read back from INFO as one')
  t.same(
    diffSnapshots(snapshotOf([Feed]), { format: 'switchboard.contracts/1', contracts: { feed: published } }).flatMap((d) => d.changes),
    [],
  )
})
