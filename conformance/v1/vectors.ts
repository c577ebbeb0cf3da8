/**
 * The vector formats of conformance/v1 (see conformance/README.md) and the checks a runner applies, written once
 * for the TypeScript runners (test/conformance/). Another implementation reads the JSON files and applies the same
 * checks; nothing here is needed to do so.
 */

/** A JSON value in the vector files; `{"$date": ISO}` and `{"$bin": hex}` stand for a timestamp and binary. */
export type Tagged = null | boolean | number | string | Tagged[] | { [k: string]: Tagged }

/** What a reply (or the result a caller reports) is compared with. */
export interface Expect {
  readonly status: string
  readonly result?: Tagged
  /** JSON pointer → regular expression, for values that vary (compared instead of `result` at that place). */
  readonly result_match?: Readonly<Record<string, string>>
  readonly result_absent?: true
  readonly message?: string
  readonly message_contains?: string
  readonly message_excludes?: string
  readonly data?: Tagged
  readonly data_match?: Tagged
  readonly data_absent?: true
  readonly headers?: Readonly<Record<string, string>>
  readonly headers_present?: readonly string[]
  readonly headers_absent?: readonly string[]
}

export interface WorkerVector {
  readonly name: string
  readonly rule: string
  readonly note?: string
  /** Features a worker may lack (`instance-subjects`, `nested-calls`): skip the vector when it does. */
  readonly requires?: readonly string[]
  readonly request: {
    readonly method: string
    readonly subject: string
    readonly headers: Readonly<Record<string, string>>
    readonly body_hex: string
    /** What body_hex decodes to (absent for the empty body and for malformed bodies). */
    readonly body?: Tagged
    /** Why body_hex is not a body a worker may accept (a decoder must refuse it). */
    readonly malformed?: string
  }
  readonly expect: Expect
}

export interface ReplySpec {
  /** The status of the NATS header block (`NATS/1.0 503`); absent: a plain `NATS/1.0` (or no header block). */
  readonly status_line?: string
  readonly headers?: Readonly<Record<string, string>>
  readonly body_hex?: string
  readonly body?: Tagged
  readonly malformed?: string
  /** Send no reply at all. */
  readonly silent?: true
}

export interface CallerVector {
  readonly name: string
  readonly rule: string
  readonly note?: string
  readonly requires?: readonly string[]
  /** `input` absent: no value (the empty body). */
  readonly call: { readonly method: string; readonly input?: Tagged; readonly timeout_ms: number }
  /** The fake responder answers request i with replies[i], the last one for any later request. */
  readonly replies: readonly ReplySpec[]
  readonly expect: Expect & {
    /** The error's number as the caller reports it. */
    readonly number?: number
    readonly requests?: number
    readonly requests_max?: number
    /** Every request carried the same `Rpc-Id`. */
    readonly same_rpc_id?: true
    /** What each request the responder got must carry. */
    readonly request?: { readonly body?: Tagged; readonly body_hex?: string; readonly headers_present?: readonly string[] }
  }
}

export interface SrvVector {
  readonly name: string
  readonly rule: string
  readonly note?: string
  readonly request: { readonly subject: string }
  /** Before the request: this call to the conformance service, then the request is compared with one made before it. */
  readonly after_call?: { readonly method: string; readonly body_hex: string; readonly body?: Tagged }
  readonly expect: {
    readonly no_reply?: true
    /** One of the official schema files (schemas/micro/v1/) the reply must pass. */
    readonly schema?: string
    /** The reply, exactly (after placeholders); metadata values holding JSON compare as JSON. */
    readonly json?: Tagged
    /** `contract.json#/<pointer>`: the reply equals that value (after placeholders), as for `json`. */
    readonly json_ref?: string
    /** These fields of the reply, exactly (after placeholders). */
    readonly match?: Tagged
    /** The names of the reply's endpoints, in order. */
    readonly endpoint_names?: readonly string[]
    /** JSON type of each field every endpoint has: `string` or `integer`. */
    readonly endpoint_fields?: Readonly<Record<string, string>>
    /** For `after_call`: the endpoint's counters compared with the reply made before the call. */
    readonly endpoint?: string
    readonly num_requests_delta?: number
    readonly num_errors_delta?: number
    readonly last_error?: string
  }
}

export interface VectorFile<V> {
  readonly $comment: string
  readonly protocol: 1
  readonly service: string
  readonly prefix: string
  readonly vectors: readonly V[]
}

// ---- placeholders -------------------------------------------------------------------------------------------

/** Values placeholders stand for in one vector: `now` is read once, when the vector's request is made. */
export interface Scope {
  readonly now: number
  readonly id: string
}

const PLACEHOLDER = /\{(now(?:[+-]\d+)?|id)\}/g
const WHOLE_NOW = /^\{now(?:[+-]\d+)?\}$/

function placeholderValue(p: string, scope: Scope): string {
  if (p === 'id') return scope.id
  const m = /^now(?:([+-])(\d+))?$/.exec(p)!
  return String(m[1] === undefined ? scope.now : m[1] === '+' ? scope.now + Number(m[2]) : scope.now - Number(m[2]))
}

/** A string with its placeholders replaced. */
export function resolveString(s: string, scope: Scope): string {
  return s.replace(PLACEHOLDER, (_, p: string) => placeholderValue(p, scope))
}

/** A JSON value with placeholders replaced; a string that is exactly one `{now…}` placeholder becomes its number. */
export function resolveJson(v: Tagged, scope: Scope): Tagged {
  if (typeof v === 'string') return WHOLE_NOW.test(v) ? Number(placeholderValue(v.slice(1, -1), scope)) : resolveString(v, scope)
  if (Array.isArray(v)) return v.map((x) => resolveJson(x, scope))
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolveJson(x, scope)]))
  return v
}

// ---- tagged JSON --------------------------------------------------------------------------------------------

export function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

export function bytesOf(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'))
}

/** The value a tagged JSON value stands for. */
export function fromTagged(v: Tagged): unknown {
  if (Array.isArray(v)) return v.map(fromTagged)
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v)
    if (keys.length === 1 && keys[0] === '$date' && typeof v.$date === 'string') return new Date(v.$date)
    if (keys.length === 1 && keys[0] === '$bin' && typeof v.$bin === 'string') return bytesOf(v.$bin)
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromTagged(x)]))
  }
  return v
}

/** A decoded value as tagged JSON (the inverse of fromTagged). */
export function toTagged(v: unknown): Tagged {
  if (v instanceof Date) return { $date: v.toISOString() }
  if (v instanceof Uint8Array) return { $bin: hexOf(v) }
  if (Array.isArray(v)) return v.map(toTagged)
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toTagged(x)]))
  if (v === undefined) throw new TypeError('undefined has no tagged JSON form')
  return v as Tagged
}

// ---- comparisons --------------------------------------------------------------------------------------------

/** Exact equality of two tagged values (maps: same keys; arrays: same order). */
export function same(a: Tagged | undefined, b: Tagged | undefined): boolean {
  return JSON.stringify(sorted(a)) === JSON.stringify(sorted(b))
}

function sorted(v: Tagged | undefined): unknown {
  if (Array.isArray(v)) return v.map(sorted)
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sorted(v[k])]),
    )
  }
  return v
}

/** Whether `actual` holds `expected`: maps have at least its keys, arrays hold a match of each of its elements. */
export function contains(actual: Tagged | undefined, expected: Tagged): boolean {
  if (Array.isArray(expected)) return Array.isArray(actual) && expected.every((e) => actual.some((a) => contains(a, e)))
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false
    return Object.entries(expected).every(([k, e]) => Object.hasOwn(actual, k) && contains(actual[k], e))
  }
  return actual === expected
}

function unescapeToken(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~')
}

/** The value at a JSON pointer, and whether it is there. */
export function at(v: Tagged | undefined, pointer: string): { found: boolean; value: Tagged | undefined } {
  let cur: Tagged | undefined = v
  for (const raw of pointer.split('/').slice(1)) {
    const k = unescapeToken(raw)
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, k)) return { found: false, value: undefined }
    cur = (cur as Record<string, Tagged>)[k]
  }
  return { found: true, value: cur }
}

/** `v` without the values at `pointers`. */
function without(v: Tagged | undefined, pointers: readonly string[]): Tagged | undefined {
  if (v === undefined || pointers.length === 0) return v
  const copy = JSON.parse(JSON.stringify(v)) as Tagged
  for (const p of pointers) {
    const parts = p.split('/').slice(1).map(unescapeToken)
    let cur: Tagged | undefined = copy
    for (const k of parts.slice(0, -1)) cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, Tagged>)[k] : undefined
    if (cur !== null && typeof cur === 'object') delete (cur as Record<string, Tagged>)[parts[parts.length - 1]!]
  }
  return copy
}

/** What a worker replied, or a caller reported, in the terms of `Expect`. */
export interface Outcome {
  readonly status: string
  /** Absent: no result (the envelope had none, or the caller reported `undefined`). */
  readonly result?: Tagged
  readonly message?: string
  readonly data?: Tagged
  /** The reply's headers (worker vectors); absent for caller outcomes. */
  readonly headers?: Readonly<Record<string, string>>
}

/** The differences between `outcome` and `expect` (after placeholders); empty when it conforms. */
export function problemsOf(expect: Expect, outcome: Outcome, scope: Scope): string[] {
  const p: string[] = []
  const show = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v).slice(0, 300))
  if (outcome.status !== expect.status) p.push(`status ${outcome.status}, expected ${expect.status} (message: ${show(outcome.message)})`)
  const matches = expect.result_match ?? {}
  if (expect.result !== undefined) {
    const want = resolveJson(expect.result, scope)
    if (!same(without(outcome.result, Object.keys(matches)), without(want, Object.keys(matches))))
      p.push(`result ${show(outcome.result)}, expected ${show(want)}`)
  }
  for (const [pointer, pattern] of Object.entries(matches)) {
    const { found, value } = at(outcome.result, pointer)
    const re = new RegExp(resolveString(pattern, scope))
    if (!found || (typeof value !== 'string' && typeof value !== 'number') || !re.test(String(value)))
      p.push(`result${pointer} ${show(value)} does not match ${re}`)
  }
  if (expect.result_absent && outcome.result !== undefined) p.push(`result ${show(outcome.result)}, expected none`)
  if (expect.message !== undefined && outcome.message !== resolveString(expect.message, scope))
    p.push(`message ${show(outcome.message)}, expected ${show(expect.message)}`)
  if (expect.message_contains !== undefined && !outcome.message?.includes(expect.message_contains))
    p.push(`message ${show(outcome.message)} does not contain ${show(expect.message_contains)}`)
  if (expect.message_excludes !== undefined && outcome.message?.includes(expect.message_excludes))
    p.push(`message ${show(outcome.message)} contains ${show(expect.message_excludes)}`)
  if (expect.data !== undefined && !same(outcome.data, resolveJson(expect.data, scope))) p.push(`data ${show(outcome.data)}, expected ${show(expect.data)}`)
  if (expect.data_match !== undefined && !contains(outcome.data, resolveJson(expect.data_match, scope)))
    p.push(`data ${show(outcome.data)} does not hold ${show(expect.data_match)}`)
  if (expect.data_absent && outcome.data !== undefined) p.push(`data ${show(outcome.data)}, expected none`)
  const h = outcome.headers
  if (h !== undefined) {
    for (const [k, v] of Object.entries(expect.headers ?? {})) {
      const want = resolveString(v, scope)
      if (h[k] !== want) p.push(`header ${k}: ${show(h[k])}, expected ${show(want)}`)
    }
    for (const k of expect.headers_present ?? []) if (h[k] === undefined) p.push(`header ${k} missing`)
    for (const k of expect.headers_absent ?? []) if (h[k] !== undefined) p.push(`header ${k}: ${show(h[k])}, expected none`)
  }
  return p
}

/** The rules every error reply follows (protocol §3), whatever the vector. */
export function errorReplyProblems(outcome: Outcome): string[] {
  if (outcome.status === 'OK' || outcome.headers === undefined) return []
  const p: string[] = []
  const sent = outcome.headers['Nats-Service-Error']
  const want = (outcome.message ?? '')
    .replace(/[\r\n]+/g, ' ')
    .slice(0, 256)
    .trim()
  if (sent !== want) p.push(`Nats-Service-Error ${JSON.stringify(sent)}, expected the message with CR/LF as spaces, at most 256 chars: ${JSON.stringify(want)}`)
  if (!/^[1-9][0-9]*$/.test(outcome.headers['Nats-Service-Error-Code'] ?? '')) p.push('Nats-Service-Error-Code is not a number')
  if (typeof outcome.message !== 'string') p.push('an error envelope without a message')
  return p
}

/** An OK reply carries no header other than `Rpc-Instance` (protocol §3). */
export function okReplyProblems(outcome: Outcome): string[] {
  if (outcome.status !== 'OK' || outcome.headers === undefined) return []
  return Object.keys(outcome.headers)
    .filter((k) => k !== 'Rpc-Instance')
    .map((k) => `an OK reply with header ${k}`)
}

// ---- files --------------------------------------------------------------------------------------------------

/** The directory of the v1 files. */
export const V1_DIR = import.meta.dirname

/** Reads one of the JSON files of this directory. */
export async function readJson<T>(name: string): Promise<T> {
  const { readFile } = await import('node:fs/promises')
  const { join } = await import('node:path')
  return JSON.parse(await readFile(join(V1_DIR, name), 'utf8')) as T
}
