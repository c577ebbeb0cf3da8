import { Compile, type Validator } from 'typebox/compile'
import type { TSchema } from 'typebox'
import { resultSchemaOf, type MethodSpec } from './contract.ts'

/** One problem found by a schema check, as sent in an INVALID_ARGUMENT envelope's `data.issues`. */
export interface Issue {
  readonly path: string
  readonly message: string
}

/** The compiled validators of one method. */
export interface MethodValidators {
  readonly input: Validator
  /** The output of a unary method, or each item of a stream method. */
  readonly output: Validator
  readonly errors: ReadonlyMap<string, Validator | undefined>
}

const MAX_ISSUES = 8
const cache = new WeakMap<MethodSpec, MethodValidators>()
const schemas = new WeakMap<TSchema, Validator>()

function compile(schema: TSchema): Validator {
  let v = schemas.get(schema)
  if (v === undefined) schemas.set(schema, (v = Compile(schema)))
  return v
}

/** The validators of a method, compiled on first use and then reused. */
export function validatorsOf(method: MethodSpec): MethodValidators {
  let v = cache.get(method)
  if (v === undefined) {
    const errors = new Map<string, Validator | undefined>()
    for (const [code, spec] of Object.entries(method.errors ?? {})) errors.set(code, spec.data && compile(spec.data))
    v = { input: compile(method.input), output: compile(resultSchemaOf(method)), errors }
    cache.set(method, v)
  }
  return v
}

/** The first few problems of a value that failed `validator`, with JSON-pointer paths. */
export function issuesOf(validator: Validator, value: unknown): Issue[] {
  return validator
    .Errors(value)
    .slice(0, MAX_ISSUES)
    .map((e) => ({ path: e.instancePath || '/', message: e.message }))
}

/** A one-line summary of issues, for error messages. */
export function describeIssues(issues: readonly Issue[]): string {
  return issues.map((i) => `${i.path} ${i.message}`).join('; ')
}
