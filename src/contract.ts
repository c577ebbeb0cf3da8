import type { Static, TSchema } from 'typebox'
import { ERROR_CODE_PATTERN, SystemCode, isSystemCode } from './codes.ts'
import type { RpcError } from './rpc-error.ts'

/** An error code a method declares: its number and, optionally, the schema of its `data`. */
export interface ErrorSpec {
  readonly status: number
  readonly data?: TSchema
  readonly description?: string
}

/** What every method declares: its input, its errors, its retry safety. */
interface MethodBase {
  readonly input: TSchema
  readonly errors?: { readonly [code: string]: ErrorSpec }
  /** Safe to run twice: the client retries UNAVAILABLE and DEADLINE_EXCEEDED within the deadline (unary methods only). */
  readonly idempotent?: boolean
  readonly description?: string
}

/** A method that answers once, with its `output`. */
export interface UnaryMethodSpec extends MethodBase {
  readonly output: TSchema
}

/**
 * A method that answers with a stream of items (protocol §10), each checked against `stream` as an output is. Its
 * handler returns an async iterable (an `async function*`); its client method returns an `RpcStream` for `for await`.
 */
export interface StreamMethodSpec extends MethodBase {
  readonly stream: TSchema
  readonly output?: undefined
}

/** One method of a contract: unary (`output`) or streamed (`stream`). */
export type MethodSpec = UnaryMethodSpec | StreamMethodSpec

/** The methods of a contract, by name. */
export type MethodsSpec = { readonly [method: string]: MethodSpec }

/** A service contract: plain data, shared by callers and workers. Types derive from it. */
export interface Contract<Name extends string = string, Methods extends MethodsSpec = MethodsSpec> {
  readonly name: Name
  readonly version: string
  readonly description: string
  readonly methods: Methods
}

/** Any contract, for generic code. */
export type AnyContract = Contract<string, MethodsSpec>
/** The method names of a contract. */
export type MethodName<C extends AnyContract> = keyof C['methods'] & string
/** The input type of a method. */
export type InputOf<C extends AnyContract, K extends MethodName<C>> = Static<C['methods'][K]['input']>
/** The output type of a unary method (never for a stream method). */
export type OutputOf<C extends AnyContract, K extends MethodName<C>> = C['methods'][K] extends { readonly output: infer S extends TSchema } ? Static<S> : never
/** The item type of a stream method (never for a unary method). */
export type ItemOf<C extends AnyContract, K extends MethodName<C>> = C['methods'][K] extends { readonly stream: infer S extends TSchema } ? Static<S> : never

// biome-ignore lint/complexity/noBannedTypes: `{}` is the empty set of declared codes here, which keyof turns into never
type DeclaredOf<M> = M extends { readonly errors: infer E } ? E : {}
type DataOf<E> = E extends { readonly data: infer S extends TSchema } ? Static<S> : undefined

/** The codes a method declares. */
export type DeclaredCode<C extends AnyContract, K extends MethodName<C>> = keyof DeclaredOf<C['methods'][K]> & string
/** The `data` type of a declared code. */
export type DeclaredData<C extends AnyContract, K extends MethodName<C>, Code extends string> = Code extends keyof DeclaredOf<C['methods'][K]>
  ? DataOf<DeclaredOf<C['methods'][K]>[Code]>
  : unknown
/** Every code a call of the method can end with: the system codes and the declared ones. */
export type ErrorCodeOf<C extends AnyContract, K extends MethodName<C>> = SystemCode | DeclaredCode<C, K>

/** The error a call of the method throws: a union discriminated on `code`, with `data` typed per declared code. */
export type MethodError<C extends AnyContract, K extends MethodName<C>> =
  | { [Code in DeclaredCode<C, K>]: RpcError<Code, DeclaredData<C, K, Code>> }[DeclaredCode<C, K>]
  | RpcError<Exclude<SystemCode, DeclaredCode<C, K>>, unknown>

/** Service and method names are single NATS tokens. */
export const NAME_PATTERN = /^[a-zA-Z][a-zA-Z0-9_-]*$/
const RESERVED = new Set(['then', 'constructor', '__proto__'])
/** A semver version: major, minor, patch and the prerelease as groups 1–4 (build metadata is matched, not captured). */
export const SEMVER = /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/

/**
 * Declares a service contract.
 *
 * ```ts
 * export const User = defineService('user', {
 *   version: '1.0.0',
 *   methods: {
 *     register: {
 *       input: Type.Object({ username: Type.String(), password: Type.String() }),
 *       output: Type.Object({ userId: Type.String() }),
 *       errors: { USERNAME_TAKEN: { status: 409 } },
 *     },
 *     // a stream method: `stream` (the schema of each item) instead of `output`
 *     recent: { input: Type.Object({ limit: Type.Integer() }), stream: Type.Object({ userId: Type.String() }) },
 *   },
 * })
 * ```
 * @throws TypeError when a name, version or error code is malformed.
 */
export function defineService<const Name extends string, const Methods extends MethodsSpec>(
  name: Name,
  spec: { readonly version: string; readonly description?: string; readonly methods: Methods },
): Contract<Name, Methods> {
  if (!NAME_PATTERN.test(name)) throw new TypeError(`service name '${name}' must match ${NAME_PATTERN}`)
  if (!SEMVER.test(spec.version)) throw new TypeError(`service '${name}': version '${spec.version}' is not semver`)
  for (const [method, def] of Object.entries(spec.methods)) checkMethod(name, method, def)
  return Object.freeze({ name, version: spec.version, description: spec.description ?? '', methods: spec.methods })
}

function checkMethod(service: string, method: string, def: MethodSpec): void {
  const where = `${service}.${method}`
  if (!NAME_PATTERN.test(method)) throw new TypeError(`method name '${where}' must match ${NAME_PATTERN}`)
  if (RESERVED.has(method)) throw new TypeError(`method name '${where}' is reserved (a client with it would be a thenable or clash with $call)`)
  if (typeof def?.input !== 'object' || (typeof def.output !== 'object') === (typeof (def as Partial<StreamMethodSpec>).stream !== 'object')) {
    throw new TypeError(`method '${where}' needs an input schema and either an output or a stream schema`)
  }
  for (const [code, err] of Object.entries(def.errors ?? {})) {
    if (!ERROR_CODE_PATTERN.test(code)) throw new TypeError(`${where}: error code '${code}' must be UPPER_SNAKE`)
    if (code === 'OK') throw new TypeError(`${where}: 'OK' is not an error code`)
    if (!Number.isInteger(err.status) || err.status < 400 || err.status > 599) {
      throw new TypeError(`${where}: error '${code}' needs a status number from 400 to 599`)
    }
    if (isSystemCode(code) && SystemCode[code] !== err.status) {
      throw new TypeError(`${where}: system code '${code}' keeps its number ${SystemCode[code]}`)
    }
  }
}

/** Whether a method answers with a stream of items. */
export function isStreamMethod(spec: MethodSpec): spec is StreamMethodSpec {
  return (spec as Partial<StreamMethodSpec>).stream !== undefined
}

/** What a method answers with: the schema of its output, or of each item of its stream. */
export function resultSchemaOf(spec: MethodSpec): TSchema {
  return isStreamMethod(spec) ? spec.stream : spec.output
}
