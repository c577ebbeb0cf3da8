import { Compile } from 'typebox/compile'
import type { TSchema } from 'typebox'
import { canonicalSchema, isPlainObject, type JsonSchema } from './canonical.ts'

/** Whether every value one schema accepts is accepted by another: yes, no, or cannot tell. */
export const Subset = { yes: 'yes', no: 'no', unknown: 'unknown' } as const
export type Subset = (typeof Subset)[keyof typeof Subset]

/** One reason a schema is not (or not provably) within another, at a JSON pointer of the value. */
export interface Finding {
  readonly result: Exclude<Subset, 'yes'>
  readonly path: string
  readonly reason: string
}

/** The keywords judged below; any other (allOf, not, $ref, patternProperties...) makes a changed schema "unknown". */
const JUDGED = new Set([
  'type',
  'const',
  'enum',
  'anyOf',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minLength',
  'maxLength',
  'pattern',
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minProperties',
  'maxProperties',
])

/**
 * Does `outer` accept every value `inner` accepts? Judged from the keywords (JSON Schema as TypeBox writes it), never
 * by sampling. "no" comes with the reason; a construct it cannot judge gives "unknown", never "yes".
 * A union `outer` counts as covering `inner` only when one member covers it whole (so a change that needs two
 * members together to cover is reported, conservatively, as "no").
 * The values of an object schema without `additionalProperties` are taken to hold only its listed properties (what
 * a typed caller can send or read); with `additionalProperties: true` or a schema, others count too.
 */
export function subsetFindings(inner: JsonSchema | TSchema, outer: JsonSchema | TSchema, path = ''): Finding[] {
  return judge(canonicalSchema(inner), canonicalSchema(outer), path)
}

/** The overall answer of a list of findings: "no" when any says so, else "unknown" when any says so, else "yes". */
export function subsetOf(findings: readonly Finding[]): Subset {
  if (findings.some((f) => f.result === Subset.no)) return Subset.no
  return findings.length === 0 ? Subset.yes : Subset.unknown
}

const no = (path: string, reason: string): Finding[] => [{ result: Subset.no, path: path || '/', reason }]
const unknown = (path: string, reason: string): Finding[] => [{ result: Subset.unknown, path: path || '/', reason }]

function judge(i: JsonSchema | boolean, o: JsonSchema | boolean, path: string): Finding[] {
  if (i === false || o === true) return []
  if (i === true) i = {}
  if (o === false) return acceptsNothing(i) ? [] : no(path, 'no value is accepted now')
  if (sameJson(i, o) || Object.keys(o).length === 0 || acceptsNothing(i)) return []
  if (acceptsNothing(o)) return no(path, 'no value is accepted now')
  const foreign = [...Object.keys(i), ...Object.keys(o)].find((k) => !JUDGED.has(k))
  if (foreign !== undefined) return unknown(path, `'${foreign}' is not a construct the checker judges`)
  if (i.const !== undefined || i.enum !== undefined) return judgeValues(i, o, path)
  if (i.anyOf !== undefined) return judgeInnerUnion(i, o, path)
  if (o.anyOf !== undefined) return judgeOuterUnion(i, o, path)
  if (o.const !== undefined || o.enum !== undefined) return no(path, `only ${describeValues(o)} ${o.const !== undefined ? 'is' : 'are'} accepted now`)
  const it = typesOf(i)
  const ot = typesOf(o)
  const out: Finding[] = []
  for (const t of ot.has('any') ? [] : it) {
    if (!ot.has(t) && !(t === 'integer' && ot.has('number')))
      out.push(...no(path, `${t === 'any' ? 'a value of any type' : `a ${t}`} was accepted, now ${[...ot].join(' or ')} only`))
  }
  if (out.length > 0) return out
  const has = (t: string) => it.has(t) || it.has('any') || (t === 'number' && it.has('integer'))
  if (has('string')) out.push(...judgeString(i, o, path))
  if (has('number')) out.push(...judgeNumber(i, o, path))
  if (has('object')) out.push(...judgeObject(i, o, path))
  if (has('array')) out.push(...judgeArray(i, o, path))
  return out
}

function typesOf(s: JsonSchema): Set<string> {
  if (s.type === undefined) return new Set(['any'])
  const ts = Array.isArray(s.type) ? s.type : [s.type]
  return new Set(ts.length === 0 ? ['any'] : ts.map(String))
}

/** Schemas that plainly accept no value: `enum: []`, `type: []`, `anyOf: []`. */
function acceptsNothing(s: JsonSchema): boolean {
  return (Array.isArray(s.enum) && s.enum.length === 0) || (Array.isArray(s.type) && s.type.length === 0) || (Array.isArray(s.anyOf) && s.anyOf.length === 0)
}

/** A finite set of values: each must pass `o` (checked by validation, exactly). */
function judgeValues(i: JsonSchema, o: JsonSchema, path: string): Finding[] {
  const values = i.const !== undefined ? [i.const] : (i.enum as unknown[])
  let check: (v: unknown) => boolean
  try {
    const v = Compile(o as TSchema)
    check = (x) => v.Check(x)
  } catch {
    return unknown(path, 'the new schema could not be compiled to check the listed values')
  }
  const rejected = values.filter((v) => !check(v))
  return rejected.length === 0
    ? []
    : no(path, `${rejected.map((v) => JSON.stringify(v)).join(', ')} ${rejected.length === 1 ? 'is' : 'are'} no longer accepted`)
}

function judgeInnerUnion(i: JsonSchema, o: JsonSchema, path: string): Finding[] {
  // keywords beside anyOf apply to every member, and judging a member without them is not sound either way
  if (Object.keys(i).some((k) => k !== 'anyOf')) return unknown(path, 'a union with keywords beside anyOf is not judged')
  return (i.anyOf as JsonSchema[]).flatMap((member, k) => judge(member, o, path).map((f) => ({ ...f, reason: `union member ${k + 1}: ${f.reason}` })))
}

function judgeOuterUnion(i: JsonSchema, o: JsonSchema, path: string): Finding[] {
  if (Object.keys(o).some((k) => k !== 'anyOf')) return unknown(path, 'a union with keywords beside anyOf is not judged')
  const tries = (o.anyOf as JsonSchema[]).map((member) => judge(i, member, path))
  if (tries.some((f) => f.length === 0)) return []
  if (tries.every((f) => subsetOf(f) === Subset.no)) return no(path, `no member of the union accepts every value accepted before (${tries[0]![0]!.reason})`)
  return unknown(path, 'the union may cover what was accepted before only with several members together')
}

function judgeString(i: JsonSchema, o: JsonSchema, path: string): Finding[] {
  const out: Finding[] = []
  const iMin = num(i.minLength, 0)
  const oMin = num(o.minLength, 0)
  if (oMin > iMin) out.push(...no(path, `strings of ${iMin} to ${oMin - 1} characters were accepted (minLength ${oMin} now)`))
  const iMax = num(i.maxLength, Infinity)
  const oMax = num(o.maxLength, Infinity)
  if (oMax < iMax)
    out.push(...no(path, `strings longer than ${oMax} characters were accepted (maxLength ${oMax} now, ${iMax === Infinity ? 'none' : iMax} before)`))
  for (const k of ['pattern', 'format'] as const) {
    if (o[k] === undefined || o[k] === i[k]) continue
    if (i[k] === undefined) out.push(...no(path, `strings must match ${k} ${JSON.stringify(o[k])} now`))
    else out.push(...unknown(path, `${k} changed from ${JSON.stringify(i[k])} to ${JSON.stringify(o[k])}: cannot tell which strings it adds or drops`))
  }
  return out
}

interface Bound {
  readonly at: number
  readonly exclusive: boolean
}

function lower(s: JsonSchema): Bound {
  const min = num(s.minimum, -Infinity)
  const ex = num(s.exclusiveMinimum, -Infinity)
  return ex >= min ? { at: ex, exclusive: ex !== -Infinity } : { at: min, exclusive: false }
}

function upper(s: JsonSchema): Bound {
  const max = num(s.maximum, Infinity)
  const ex = num(s.exclusiveMaximum, Infinity)
  return ex <= max ? { at: ex, exclusive: ex !== Infinity } : { at: max, exclusive: false }
}

const show = (b: Bound, side: '>' | '<') => (Math.abs(b.at) === Infinity ? 'none' : `${side}${b.exclusive ? '' : '='} ${b.at}`)

function judgeNumber(i: JsonSchema, o: JsonSchema, path: string): Finding[] {
  const out: Finding[] = []
  const [il, ol] = [lower(i), lower(o)]
  if (ol.at > il.at || (ol.at === il.at && ol.exclusive && !il.exclusive))
    out.push(...no(path, `the lower bound rose (${show(il, '>')} before, ${show(ol, '>')} now)`))
  const [iu, ou] = [upper(i), upper(o)]
  if (ou.at < iu.at || (ou.at === iu.at && ou.exclusive && !iu.exclusive))
    out.push(...no(path, `the upper bound fell (${show(iu, '<')} before, ${show(ou, '<')} now)`))
  if (o.multipleOf !== undefined) {
    const step = num(o.multipleOf, 1)
    const before = i.multipleOf === undefined ? undefined : num(i.multipleOf, 1)
    // exact only: a ratio that is not a whole number in floating point may leave a remainder the validator refuses
    if (!(before !== undefined && Number.isInteger(before / step))) out.push(...no(path, `numbers must be multiples of ${step} now`))
  }
  return out
}

function judgeObject(i: JsonSchema, o: JsonSchema, path: string): Finding[] {
  const out: Finding[] = []
  const iProps = (isPlainObject(i.properties) ? i.properties : {}) as Record<string, JsonSchema>
  const oProps = (isPlainObject(o.properties) ? o.properties : {}) as Record<string, JsonSchema>
  const iReq = new Set((i.required as string[] | undefined) ?? [])
  const oReq = new Set((o.required as string[] | undefined) ?? [])
  // an object that does not say `additionalProperties` holds its listed properties only, as far as the contract
  // goes: typed callers send no others and ignore others they get (docs/evolution.md)
  const listsProperties = i.type === 'object' || (Array.isArray(i.type) && i.type.includes('object')) || i.properties !== undefined
  const iExtra = i.additionalProperties === undefined && listsProperties ? false : extraOf(i)
  const oExtra = extraOf(o)
  for (const key of new Set([...Object.keys(iProps), ...Object.keys(oProps)])) {
    const at = `${path}/${key}`
    const before = Object.hasOwn(iProps, key) ? iProps[key]! : iExtra
    if (before === false) continue // it could not appear before
    const now = Object.hasOwn(oProps, key) ? oProps[key]! : oExtra
    if (now === false) out.push(...no(at, `property '${key}' was accepted, it is not allowed now`))
    else out.push(...judge(before, now, at))
  }
  for (const key of oReq) if (!iReq.has(key)) out.push(...no(`${path}/${key}`, `property '${key}' is required now`))
  if (iExtra !== false) {
    if (oExtra === false) out.push(...no(path, 'properties not listed were accepted, they are not allowed now'))
    else out.push(...judge(iExtra, oExtra, `${path}/*`))
  }
  const [iMin, oMin] = [num(i.minProperties, 0), num(o.minProperties, 0)]
  if (oMin > iMin) out.push(...no(path, `at least ${oMin} properties are needed now`))
  const [iMax, oMax] = [num(i.maxProperties, Infinity), num(o.maxProperties, Infinity)]
  if (oMax < iMax) out.push(...no(path, `at most ${oMax} properties are allowed now`))
  return out
}

/** What a property the schema does not list may hold: false (none), or a schema ({} for anything). */
function extraOf(s: JsonSchema): JsonSchema | false {
  const a = s.additionalProperties
  if (a === false) return false
  return isPlainObject(a) ? a : {}
}

function judgeArray(i: JsonSchema, o: JsonSchema, path: string): Finding[] {
  const out: Finding[] = []
  if (Array.isArray(i.items) || Array.isArray(o.items)) return unknown(path, 'items as a list (tuples) is not judged')
  const itemsOf = (s: JsonSchema): JsonSchema | boolean => (typeof s.items === 'boolean' ? s.items : isPlainObject(s.items) ? s.items : {})
  out.push(...judge(itemsOf(i), itemsOf(o), `${path}/[]`))
  const [iMin, oMin] = [num(i.minItems, 0), num(o.minItems, 0)]
  if (oMin > iMin) out.push(...no(path, `arrays of ${iMin} to ${oMin - 1} items were accepted (minItems ${oMin} now)`))
  const [iMax, oMax] = [num(i.maxItems, Infinity), num(o.maxItems, Infinity)]
  if (oMax < iMax) out.push(...no(path, `arrays of more than ${oMax} items were accepted (maxItems ${oMax} now)`))
  if (o.uniqueItems === true && i.uniqueItems !== true) out.push(...no(path, 'items must be unique now'))
  return out
}

function describeValues(s: JsonSchema): string {
  return s.const !== undefined ? JSON.stringify(s.const) : (s.enum as unknown[]).map((v) => JSON.stringify(v)).join(', ')
}

function num(x: unknown, fallback: number): number {
  return typeof x === 'number' && !Number.isNaN(x) ? x : fallback
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}
