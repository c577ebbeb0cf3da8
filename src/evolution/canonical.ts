import type { TSchema } from 'typebox'

/** A JSON Schema as plain JSON (what a snapshot holds and `$SRV.INFO` publishes). */
export type JsonSchema = { readonly [keyword: string]: unknown }

/** Keywords that describe a value without constraining it: changing them changes no validation. */
export const ANNOTATIONS: ReadonlySet<string> = new Set([
  'title',
  'description',
  'default',
  'examples',
  '$comment',
  '$id',
  '$schema',
  'readOnly',
  'writeOnly',
  'deprecated',
])

/** Keywords whose value is a map of names to schemas; the names are data, not keywords. */
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'])
/** Keywords whose value is a schema or a list of schemas. */
const SCHEMA_VALUES = new Set(['items', 'additionalProperties', 'anyOf', 'allOf', 'oneOf', 'not', 'if', 'then', 'else', 'prefixItems', 'contains'])

/**
 * A schema as plain JSON with sorted keys and without TypeBox's own `~` markers, except refinements
 * (`Type.Refine`), which stay as `refine: <count>` so a changed one is seen (and judged "unknown"); with `annotations: false` also
 * without the keywords that do not constrain (so two schemas that validate alike compare equal). Pure.
 */
export function plainSchema(schema: JsonSchema | TSchema | boolean, { annotations = true } = {}): JsonSchema | boolean {
  if (typeof schema === 'boolean') return schema
  const out: Record<string, unknown> = {}
  // refinements are functions, which JSON cannot hold (and TypeBox keeps them out of sight): their count marks them
  const refine = Object.getOwnPropertyDescriptor(schema, '~refine')?.value
  if (refine !== undefined) out.refine = Array.isArray(refine) ? refine.length : 1
  for (const key of Object.keys(schema).sort()) {
    if (key.startsWith('~') || (!annotations && ANNOTATIONS.has(key))) continue
    const v = (schema as Record<string, unknown>)[key]
    if (v === undefined) continue
    if (SCHEMA_MAPS.has(key) && isPlainObject(v)) {
      out[key] = Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, plainSchema(v[k] as JsonSchema, { annotations })]),
      )
    } else if (SCHEMA_VALUES.has(key)) {
      out[key] = Array.isArray(v) ? v.map((x) => plainSchema(x as JsonSchema, { annotations })) : plainSchema(v as JsonSchema, { annotations })
    } else out[key] = jsonValue(v)
  }
  return out
}

/** The schema as the subset judge reads it: plain, sorted, no annotations. */
export function canonicalSchema(schema: JsonSchema | TSchema | boolean): JsonSchema | boolean {
  return plainSchema(schema, { annotations: false })
}

/** A JSON value with its object keys sorted (for stable comparison and output). */
function jsonValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(jsonValue)
  if (!isPlainObject(v)) return v
  return Object.fromEntries(
    Object.keys(v)
      .sort()
      .map((k) => [k, jsonValue(v[k])]),
  )
}

/** A JSON object (not an array, not null). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
