import t from 'tap'
import type { TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import { Subset, subsetFindings, subsetOf } from 'switchboard'

/**
 * Random schema pairs: the new one a random widening or narrowing of the old (bounds moved, fields added, dropped or
 * made (non-)required, union members and literals added or removed, types swapped). Whenever the checker says the
 * new input accepts all the old one did, no value sampled from the old schema (and valid under it) may fail the new
 * one's validation. Seeded, so a failure is reproducible.
 */

type S = Record<string, unknown>

/** mulberry32: a small seeded PRNG. */
function rng(seed: number) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1))
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)]!
  const chance = (p: number) => next() < p
  return { next, int, pick, chance }
}
type Rng = ReturnType<typeof rng>

const PATTERNS = ['^[a-z]+$', '^[a-z0-9]+$', '^a']
const WORDS = ['x', 'y', 'z', 'w']
const KEYS = ['a', 'b', 'c', 'd']

function schema(r: Rng, depth: number): S {
  const kind = r.pick(
    depth >= 2
      ? ['string', 'integer', 'number', 'boolean', 'literal']
      : ['string', 'integer', 'number', 'boolean', 'literal', 'union', 'array', 'object', 'object'],
  )
  switch (kind) {
    case 'string': {
      const s: S = { type: 'string' }
      if (r.chance(0.5)) s.minLength = r.int(0, 3)
      if (r.chance(0.5)) s.maxLength = r.int(3, 8)
      if (r.chance(0.3)) s.pattern = r.pick(PATTERNS)
      return s
    }
    case 'integer':
    case 'number': {
      const s: S = { type: kind }
      if (r.chance(0.5)) s[r.chance(0.7) ? 'minimum' : 'exclusiveMinimum'] = r.int(-5, 5)
      if (r.chance(0.5)) s[r.chance(0.7) ? 'maximum' : 'exclusiveMaximum'] = r.int(6, 20)
      if (r.chance(0.2)) s.multipleOf = r.pick([2, 3, 5, 10])
      return s
    }
    case 'boolean':
      return { type: 'boolean' }
    case 'literal':
      return { type: 'string', const: r.pick(WORDS) }
    case 'union': {
      const n = r.int(2, 3)
      return { anyOf: Array.from({ length: n }, () => schema(r, depth + 1)) }
    }
    case 'array': {
      const s: S = { type: 'array', items: schema(r, depth + 1) }
      if (r.chance(0.4)) s.minItems = r.int(0, 2)
      if (r.chance(0.4)) s.maxItems = r.int(2, 4)
      if (r.chance(0.2)) s.uniqueItems = true
      return s
    }
    default: {
      const keys = KEYS.filter(() => r.chance(0.6))
      const properties: Record<string, S> = {}
      for (const k of keys) properties[k] = schema(r, depth + 1)
      const s: S = { type: 'object', properties, required: keys.filter(() => r.chance(0.5)) }
      if (r.chance(0.3)) s.additionalProperties = r.chance(0.5)
      return s
    }
  }
}

/** The bounds of each type, which mutations move. */
const BOUNDS: Record<string, readonly string[]> = {
  string: ['minLength', 'maxLength'],
  integer: ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'],
  number: ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'],
  array: ['minItems', 'maxItems'],
}

/** The old schema changed in one random place, in a random direction. */
function mutate(r: Rng, s: S, depth = 0): S {
  const out: S = structuredClone(s)
  const children: { get: () => S; set: (x: S) => void }[] = []
  if (out.properties)
    for (const k of Object.keys(out.properties as S))
      children.push({ get: () => (out.properties as Record<string, S>)[k]!, set: (x) => ((out.properties as Record<string, S>)[k] = x) })
  if (out.items) children.push({ get: () => out.items as S, set: (x) => (out.items = x) })
  if (out.anyOf)
    for (let i = 0; i < (out.anyOf as S[]).length; i++) children.push({ get: () => (out.anyOf as S[])[i]!, set: (x) => ((out.anyOf as S[])[i] = x) })
  if (children.length > 0 && r.chance(0.6)) {
    const c = r.pick(children)
    c.set(mutate(r, c.get(), depth + 1))
    return out
  }
  const bump = (k: string, by: number) => {
    if (typeof out[k] === 'number') out[k] = (out[k] as number) + by
    else out[k] = by > 0 ? 5 : 1
  }
  const bounds = BOUNDS[String(out.type)] ?? []
  const moves: (() => void)[] = [
    () => bounds.length > 0 && bump(r.pick(bounds), r.pick([-2, -1, 1, 2])),
    () => bounds.length > 0 && bump(r.pick(bounds), r.pick([-1, 1])),
    () => delete out[r.pick([...bounds, 'pattern', 'multipleOf', 'uniqueItems'])],
    () => (out.pattern = r.pick(PATTERNS)),
    () => (out.multipleOf = r.pick([2, 3, 5, 10])),
    () => (out.uniqueItems = true),
    () => {
      if (out.type === 'integer') out.type = 'number'
      else if (out.type === 'number') out.type = 'integer'
    },
    () => {
      if (out.const !== undefined) out.const = r.pick(WORDS)
    },
    () => {
      if (out.anyOf) (out.anyOf as S[]).splice(r.int(0, (out.anyOf as S[]).length - 1), 1)
    },
    () => {
      if (out.anyOf) (out.anyOf as S[]).push(schema(r, depth + 1))
    },
    () => {
      if (out.type !== 'object') return
      const props = out.properties as Record<string, S>
      const k = r.pick(KEYS)
      if (props[k] === undefined) props[k] = schema(r, depth + 1)
      else {
        delete props[k]
        out.required = (out.required as string[]).filter((x) => x !== k)
      }
    },
    () => {
      if (out.type !== 'object') return
      const k = r.pick(Object.keys(out.properties as S).concat('a'))
      const req = out.required as string[]
      out.required = req.includes(k) ? req.filter((x) => x !== k) : [...req, k]
    },
    () => {
      if (out.type === 'object') out.additionalProperties = r.pick([true, false, undefined])
    },
  ]
  r.pick(moves)()
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k]
  if (out.type === 'object') out.required = [...new Set(out.required as string[])].filter((k) => k in (out.properties as S))
  return out
}

/** A value shaped by `s` (not always valid: bounds are probed at and past their edges; the caller filters). */
function sample(r: Rng, s: S): unknown {
  if (s.const !== undefined) return s.const
  if (s.anyOf) return sample(r, r.pick(s.anyOf as S[]))
  switch (s.type) {
    case 'string': {
      const lo = (s.minLength as number) ?? 0
      const hi = (s.maxLength as number) ?? lo + 6
      const len = r.pick([lo, hi, r.int(lo, hi), Math.max(0, lo - 1), hi + 1])
      const alphabet = r.pick(['abc', 'ab1', 'xyz', 'Z9'])
      const str = Array.from({ length: len }, () => alphabet[r.int(0, alphabet.length - 1)]).join('')
      return r.chance(0.2) ? r.pick(WORDS) : str
    }
    case 'integer':
    case 'number': {
      const lo = (s.minimum as number) ?? (s.exclusiveMinimum as number) ?? -10
      const hi = (s.maximum as number) ?? (s.exclusiveMaximum as number) ?? 30
      const m = (s.multipleOf as number) ?? 1
      const base = r.pick([lo, hi, lo - 1, hi + 1, r.int(lo, hi), Math.round(r.int(lo, hi) / m) * m])
      return s.type === 'number' && r.chance(0.3) ? base + 0.5 : base
    }
    case 'boolean':
      return r.chance(0.5)
    case 'array': {
      const lo = (s.minItems as number) ?? 0
      const hi = (s.maxItems as number) ?? lo + 3
      return Array.from({ length: r.pick([lo, hi, r.int(lo, hi)]) }, () => sample(r, s.items as S))
    }
    case 'object': {
      const o: Record<string, unknown> = {}
      const req = new Set(s.required as string[])
      for (const [k, p] of Object.entries(s.properties as Record<string, S>)) if (req.has(k) || r.chance(0.6)) o[k] = sample(r, p)
      // a value of the contract holds only the listed properties, unless the schema says it takes others
      if (s.additionalProperties === true && r.chance(0.5)) o.extra = r.pick([1, 'q', true])
      return o
    }
    default:
      return null
  }
}

t.test('contract-diff - property: a change judged compatible never rejects a value the old input accepted', async (t) => {
  const PAIRS = 3_000
  const VALUES = 40
  const tally = { same: 0, yes: 0, no: 0, unknown: 0, narrowedForReal: 0 }
  for (let seed = 1; seed <= PAIRS; seed++) {
    const r = rng(seed)
    const before = schema(r, 0)
    const after = r.chance(0.5) ? mutate(r, before) : mutate(r, mutate(r, before))
    const verdict = subsetOf(subsetFindings(before as TSchema, after as TSchema))
    if (JSON.stringify(before) === JSON.stringify(after)) tally.same++
    else tally[verdict]++
    const oldCheck = Compile(before as TSchema)
    const newCheck = Compile(after as TSchema)
    let rejected: unknown
    for (let k = 0; k < VALUES && rejected === undefined; k++) {
      const v = sample(r, before)
      if (oldCheck.Check(v) && !newCheck.Check(v)) rejected = v
    }
    if (rejected !== undefined) tally.narrowedForReal++
    if (verdict === Subset.yes && rejected !== undefined) {
      t.fail(`seed ${seed}: judged compatible, but ${JSON.stringify(rejected)} passed ${JSON.stringify(before)} and fails ${JSON.stringify(after)}`)
      return
    }
  }
  t.pass(
    `${PAIRS} pairs: ${tally.same} unchanged, of the others ${tally.yes} judged compatible, ${tally.no} breaking, ${tally.unknown} unknown; ${tally.narrowedForReal} really narrowed`,
  )
  t.ok(tally.yes > PAIRS * 0.15, 'enough pairs judged compatible for the property to mean something')
  t.ok(tally.narrowedForReal > PAIRS * 0.1, 'and enough pairs that really narrowed, every one of them caught')
})
