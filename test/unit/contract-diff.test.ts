import t from 'tap'
import Type, { type TSchema } from 'typebox'
import {
  Bump,
  bumpBetween,
  defineService,
  diffSnapshots,
  enoughBump,
  overallVerdict,
  requiredVersion,
  snapshotOf,
  Verdict,
  type Change,
  type MethodSpec,
} from 'switchboard'

const Ok = Type.Object({ ok: Type.Boolean() })

/** The changes of one method between two versions of a one-method contract. */
function changes(before: Partial<MethodSpec>, after: Partial<MethodSpec>, versions: [string, string] = ['1.0.0', '2.0.0']): Change[] {
  const c = (version: string, m: Partial<MethodSpec>) => defineService('svc', { version, methods: { m: { input: Type.Object({}), output: Ok, ...m } } })
  const diffs = diffSnapshots(snapshotOf([c(versions[0], before)]), snapshotOf([c(versions[1], after)]))
  return diffs.flatMap((d) => d.changes)
}

/** The verdict of changing a method's input (or output) from `a` to `b`. */
const input = (a: TSchema, b: TSchema) => verdictOf(changes({ input: a }, { input: b }))
const output = (a: TSchema, b: TSchema) => verdictOf(changes({ output: a }, { output: b }))
function verdictOf(cs: Change[]): Verdict | 'none' {
  if (cs.length === 0) return 'none'
  return overallVerdict([{ service: 'svc', from: '1', to: '2', changes: cs, needs: Bump.none, has: Bump.none, enough: true, suggested: undefined }])
}

const Str = (o = {}) => Type.String(o)
const Obj = (props: Record<string, TSchema>, o = {}) => Type.Object(props, o)

t.test('contract-diff - inputs may widen, not narrow', async (t) => {
  const base = Obj({ to: Str({ maxLength: 32 }), text: Str({ minLength: 1, maxLength: 4000 }) })
  t.equal(
    input(base, Obj({ to: Str({ maxLength: 32 }), text: Str({ minLength: 1, maxLength: 4000 }), urgent: Type.Optional(Type.Boolean()) })),
    Verdict.compatible,
    'a new optional field',
  )
  t.equal(
    input(base, Obj({ to: Str({ maxLength: 32 }), text: Str({ minLength: 1, maxLength: 4000 }), urgent: Type.Boolean() })),
    Verdict.breaking,
    'a new required field',
  )
  t.equal(input(base, Obj({ to: Str({ maxLength: 64 }), text: Str({ maxLength: 8000 }) })), Verdict.compatible, 'looser bounds')
  t.equal(input(base, Obj({ to: Str({ maxLength: 16 }), text: Str({ minLength: 1, maxLength: 4000 }) })), Verdict.breaking, 'a lower maxLength')
  t.equal(input(base, Obj({ to: Str({ maxLength: 32 }), text: Str({ minLength: 2, maxLength: 4000 }) })), Verdict.breaking, 'a higher minLength')
  t.equal(
    input(base, Obj({ to: Type.Optional(Str({ maxLength: 32 })), text: Str({ minLength: 1, maxLength: 4000 }) })),
    Verdict.compatible,
    'a required field made optional',
  )
  t.equal(input(base, Obj({ to: Str({ maxLength: 32 }) })), Verdict.compatible, 'a field dropped from an open object: the new worker ignores it')
  t.equal(
    input(base, Obj({ to: Str({ maxLength: 32 }) }, { additionalProperties: false })),
    Verdict.breaking,
    'a field dropped from a closed object: old callers still send it',
  )
  t.equal(
    input(Obj({ a: Str() }), Obj({ a: Str() }, { additionalProperties: false })),
    Verdict.compatible,
    'closing an object whose callers send its fields only',
  )
  t.equal(
    input(Obj({ a: Str() }, { additionalProperties: true }), Obj({ a: Str() }, { additionalProperties: false })),
    Verdict.breaking,
    'closing an object that said it takes others',
  )
})

t.test('contract-diff - numbers, integers, patterns, arrays', async (t) => {
  t.equal(input(Type.Integer(), Type.Number()), Verdict.compatible, 'integer to number')
  t.equal(input(Type.Number(), Type.Integer()), Verdict.breaking, 'number to integer')
  t.equal(input(Type.Integer({ minimum: 1, maximum: 200 }), Type.Integer({ minimum: 0, maximum: 500 })), Verdict.compatible, 'looser range')
  t.equal(input(Type.Integer({ minimum: 1, maximum: 200 }), Type.Integer({ minimum: 1, maximum: 100 })), Verdict.breaking, 'a lower maximum')
  t.equal(input(Type.Number({ minimum: 0 }), Type.Number({ exclusiveMinimum: 0 })), Verdict.breaking, '0 itself is refused now')
  t.equal(input(Type.Number({ exclusiveMinimum: 0 }), Type.Number({ minimum: 0 })), Verdict.compatible, '0 is accepted now')
  t.equal(input(Type.Number({ multipleOf: 10 }), Type.Number({ multipleOf: 5 })), Verdict.compatible, 'multiples of 10 are multiples of 5')
  t.equal(input(Type.Number({ multipleOf: 5 }), Type.Number({ multipleOf: 10 })), Verdict.breaking, 'not the other way round')
  t.equal(input(Str(), Str({ pattern: '^[a-z]+$' })), Verdict.breaking, 'a pattern added')
  t.equal(input(Str({ pattern: '^[a-z]+$' }), Str()), Verdict.compatible, 'a pattern dropped')
  t.equal(input(Str({ pattern: '^[a-z]+$' }), Str({ pattern: '^[a-z0-9]+$' })), Verdict.unknown, 'a pattern changed: regular expressions are not compared')
  t.equal(input(Type.Array(Str(), { maxItems: 10 }), Type.Array(Str(), { maxItems: 20 })), Verdict.compatible, 'more items allowed')
  t.equal(input(Type.Array(Str(), { maxItems: 10 }), Type.Array(Str(), { maxItems: 5 })), Verdict.breaking, 'fewer items allowed')
  t.equal(input(Type.Array(Str()), Type.Array(Str(), { uniqueItems: true })), Verdict.breaking, 'items must be unique now')
  t.equal(input(Type.Array(Type.Integer()), Type.Array(Type.Number())), Verdict.compatible, 'wider items')
})

t.test('contract-diff - unions and literals', async (t) => {
  const xy = Type.Union([Type.Literal('x'), Type.Literal('y')])
  const xyz = Type.Union([Type.Literal('x'), Type.Literal('y'), Type.Literal('z')])
  t.equal(input(xy, xyz), Verdict.compatible, 'a literal added to an input union')
  t.equal(input(xyz, xy), Verdict.breaking, 'a literal removed from an input union')
  t.equal(output(xyz, xy), Verdict.compatible, 'a literal removed from an output union')
  t.equal(output(xy, xyz), Verdict.breaking, 'a literal added to an output union: old callers meet a value they do not know')
  t.equal(input(Type.Literal('x'), Str()), Verdict.compatible, 'a literal widened to any string')
  t.equal(input(Str(), Type.Literal('x')), Verdict.breaking, 'any string narrowed to one')
  const a = Obj({ to: Str() })
  const b = Obj({ groupId: Str() })
  t.equal(input(a, Type.Union([a, b])), Verdict.compatible, 'a union member added')
  t.equal(input(Type.Union([a, b]), a), Verdict.breaking, 'a union member removed')
  t.equal(input(Str(), Type.Union([Str(), Type.Integer()])), Verdict.compatible, 'a type added beside a string')
})

t.test('contract-diff - outputs may narrow, not widen', async (t) => {
  const base = Obj({ id: Str(), n: Type.Integer({ minimum: 0 }) })
  t.equal(output(base, Obj({ id: Str(), n: Type.Integer({ minimum: 0 }), extra: Str() })), Verdict.compatible, 'a field added: old callers ignore it')
  t.equal(output(base, Obj({ id: Str() })), Verdict.breaking, 'a field removed')
  t.equal(output(base, Obj({ id: Str(), n: Type.Optional(Type.Integer({ minimum: 0 })) })), Verdict.breaking, 'a field made optional')
  t.equal(output(base, Obj({ id: Str(), n: Type.Integer() })), Verdict.breaking, 'a bound dropped: old callers may meet -1')
  t.equal(output(base, Obj({ id: Str(), n: Type.Integer({ minimum: 1 }) })), Verdict.compatible, 'a bound tightened')
})

t.test('contract-diff - declared errors, methods, idempotency, annotations', async (t) => {
  const e = (errors: MethodSpec['errors']) => ({ errors })
  const one = changes(e({ NOT_FOUND: { status: 404 } }), e({ NOT_FOUND: { status: 404 }, TOO_LATE: { status: 412 } }))
  t.match(one, [{ verdict: Verdict.compatible, bump: Bump.minor, where: 'svc.m error TOO_LATE' }], 'an error code added')
  t.match(changes(e({ NOT_FOUND: { status: 404 } }), e({})), [{ verdict: Verdict.breaking, where: 'svc.m error NOT_FOUND' }], 'an error code removed')
  t.match(
    changes(e({ GONE: { status: 404 } }), e({ GONE: { status: 410 } })),
    [{ verdict: Verdict.breaking, detail: /renumbered from 404 to 410/ }],
    'renumbered',
  )
  const data = (s: TSchema) => e({ LIMIT: { status: 429, data: s } })
  t.equal(
    verdictOf(changes(data(Obj({ retryMs: Type.Integer() })), data(Obj({ retryMs: Type.Integer(), why: Str() })))),
    Verdict.compatible,
    'error data may narrow',
  )
  t.equal(verdictOf(changes(data(Obj({ retryMs: Type.Integer() })), data(Obj({ retryMs: Type.Number() })))), Verdict.breaking, 'error data may not widen')
  t.equal(verdictOf(changes(data(Obj({ retryMs: Type.Integer() })), e({ LIMIT: { status: 429 } }))), Verdict.breaking, 'error data dropped')

  t.match(changes({ idempotent: true }, { idempotent: false }), [{ verdict: Verdict.breaking, detail: /retry/ }], 'idempotent turned off: old callers retry it')
  t.match(changes({ idempotent: false }, { idempotent: true }), [{ verdict: Verdict.compatible }], 'idempotent turned on')
  t.match(changes({ description: 'a' }, { description: 'b' }), [{ verdict: Verdict.compatible, bump: Bump.patch }], 'a description')
  t.match(
    changes({ input: Str({ description: 'a' }) }, { input: Str({ description: 'b' }) }),
    [{ bump: Bump.patch, detail: /annotations/ }],
    'a schema description',
  )
  t.same(changes({ input: Str() }, { input: Str() }), [], 'no change, no changes')

  const v = (version: string, methods: Record<string, MethodSpec>) => snapshotOf([defineService('svc', { version, methods })])
  const m = { input: Type.Object({}), output: Ok }
  const added = diffSnapshots(v('1.0.0', { a: m }), v('1.1.0', { a: m, b: m }))
  t.match(
    added,
    [{ needs: Bump.minor, has: Bump.minor, enough: true, changes: [{ where: 'svc.b', verdict: Verdict.compatible }] }],
    'a method added: a minor bump is enough',
  )
  const removed = diffSnapshots(v('1.0.0', { a: m, b: m }), v('1.1.0', { a: m }))
  t.match(
    removed,
    [{ needs: Bump.major, enough: false, suggested: '2.0.0', changes: [{ where: 'svc.b', verdict: Verdict.breaking }] }],
    'a method removed needs 2.0.0',
  )
  const gone = diffSnapshots(v('1.0.0', { a: m }), { format: 'switchboard.contracts/1', contracts: {} })
  t.match(gone, [{ service: 'svc', changes: [{ verdict: Verdict.breaking, detail: /service removed/ }] }], 'a service removed')
})

t.test('contract-diff - a construct it does not judge is unknown, never compatible', async (t) => {
  const notA = { not: { type: 'string', const: 'a' } } as unknown as TSchema
  t.equal(input(Str(), notA), Verdict.unknown)
  const all = Type.Object({ a: { allOf: [{ type: 'string' }, { minLength: 1 }] } as unknown as TSchema })
  t.equal(input(Type.Object({ a: Str() }), all), Verdict.unknown, 'allOf inside a property')
  t.match(
    changes({ input: Str() }, { input: notA }),
    [{ bump: Bump.major, detail: /'not' is not a construct the checker judges/ }],
    'and counts as needing a major bump',
  )
})

t.test('contract-diff - edge cases found in review are never judged compatible', async (t) => {
  const raw = (x: unknown) => x as TSchema
  t.not(
    input(
      raw({ type: 'object', properties: { a: { type: 'number' } }, anyOf: [{ type: 'object' }] }),
      raw({ type: 'object', properties: { a: { type: 'string' } } }),
    ),
    Verdict.compatible,
    'keywords beside anyOf on the old side',
  )
  t.equal(input(raw({}), raw({ additionalProperties: false })), Verdict.breaking, 'any value before, no extra properties now')
  t.equal(input(raw({}), raw({ properties: { a: { type: 'string' } } })), Verdict.breaking, 'any value before, a typed property now')
  t.equal(input(Type.Array(Type.Number()), raw({ type: 'array', items: false })), Verdict.breaking, 'items: false')
  t.equal(input(Type.Array(Type.Number()), raw({ type: 'array', items: [{ type: 'string' }] })), Verdict.unknown, 'items as a tuple list')
  t.equal(input(Str(), raw({ type: [] })), Verdict.breaking, 'type: [] accepts nothing')
  t.equal(input(Str(), raw({ anyOf: [] })), Verdict.breaking, 'an empty union accepts nothing (and does not crash)')
  t.equal(input(Type.Number({ multipleOf: 2 }), Type.Number({ multipleOf: 2.000000001 })), Verdict.breaking, 'multipleOf compared exactly')
  const refined = Type.Refine(Str(), (v) => v.length % 2 === 0)
  t.equal(input(Str(), refined), Verdict.unknown, 'a refinement added is seen, and cannot be judged')
})

t.test('contract-diff - semver: which bump a version moved by, and whether it is enough', async (t) => {
  t.equal(bumpBetween('1.2.3', '2.0.0'), Bump.major)
  t.equal(bumpBetween('1.2.3', '1.3.0'), Bump.minor)
  t.equal(bumpBetween('1.2.3', '1.2.4'), Bump.patch)
  t.equal(bumpBetween('1.2.3', '1.2.3'), Bump.none)
  t.equal(bumpBetween('1.2.3', '1.2.2'), 'downgrade')
  t.equal(bumpBetween('1.2.3-rc.1', '1.2.3'), Bump.patch, 'a release after its prerelease')
  t.equal(bumpBetween('1.2.3', '1.2.3-rc.1'), 'downgrade', 'a prerelease of the same version comes before it')
  t.equal(bumpBetween('1.2.3-rc.2', '1.2.3-rc.10'), Bump.patch, 'prerelease parts compare numerically')
  t.equal(bumpBetween('1.2.3-rc.2', '1.2.3-beta'), 'downgrade')
  t.equal(bumpBetween('1.2.3+a', '1.2.3+b'), Bump.none, 'build metadata has no precedence')
  t.ok(enoughBump('1.2.3', Bump.major, Bump.major))
  t.notOk(enoughBump('1.2.3', Bump.minor, Bump.major), 'breaking needs a major bump')
  t.ok(enoughBump('0.3.0', Bump.minor, Bump.major), 'before 1.0.0 a minor bump is enough for a breaking change')
  t.ok(enoughBump('0.3.0', Bump.patch, Bump.minor), 'and a patch for an addition')
  t.notOk(enoughBump('0.3.0', Bump.patch, Bump.major))
  t.notOk(enoughBump('1.0.0', 'downgrade', Bump.patch))
  t.equal(requiredVersion('1.4.2', Bump.major), '2.0.0')
  t.equal(requiredVersion('1.4.2', Bump.minor), '1.5.0')
  t.equal(requiredVersion('0.4.2', Bump.major), '0.5.0')
  t.throws(() => bumpBetween('one', '1.0.0'), /not a semver version/)
})
