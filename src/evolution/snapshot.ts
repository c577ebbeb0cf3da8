import { isStreamMethod, type AnyContract } from '../contract.ts'
import { plainSchema, type JsonSchema } from './canonical.ts'

/** The format tag of a contracts snapshot file; a reader refuses any other. */
export const SNAPSHOT_FORMAT = 'switchboard.contracts/1'

/**
 * One method as a snapshot keeps it: its schemas as plain JSON, its declared errors, its retry safety. A unary
 * method has `output`; a stream method has `stream` (its item schema) instead.
 */
export interface MethodSnapshot {
  readonly description: string
  readonly idempotent: boolean
  readonly input: JsonSchema | boolean
  readonly output?: JsonSchema | boolean
  readonly stream?: JsonSchema | boolean
  readonly errors: { readonly [code: string]: { readonly status: number; readonly data?: JsonSchema | boolean } }
}

/** One contract as data, without TypeBox: what `switchboard contracts diff` compares. */
export interface ContractSnapshot {
  readonly name: string
  readonly version: string
  readonly description: string
  readonly methods: { readonly [method: string]: MethodSnapshot }
}

/** Every contract of a code base at one point in time (`contracts.lock.json`). */
export interface ContractsSnapshot {
  readonly format: typeof SNAPSHOT_FORMAT
  readonly contracts: { readonly [service: string]: ContractSnapshot }
}

/** A snapshot file that cannot be read as one. */
export class SnapshotError extends Error {
  override name = 'SnapshotError'
}

/** A contract as plain, sorted JSON. Pure. */
export function snapshotContract(c: AnyContract): ContractSnapshot {
  const methods: Record<string, MethodSnapshot> = {}
  for (const name of Object.keys(c.methods).sort()) {
    const m = c.methods[name]!
    const errors: Record<string, { status: number; data?: JsonSchema | boolean }> = {}
    for (const code of Object.keys(m.errors ?? {}).sort()) {
      const e = m.errors![code]!
      errors[code] = e.data === undefined ? { status: e.status } : { status: e.status, data: plainSchema(e.data) }
    }
    const input = plainSchema(m.input)
    const base = { description: m.description ?? '', idempotent: m.idempotent === true, input }
    methods[name] = isStreamMethod(m) ? { ...base, stream: plainSchema(m.stream), errors } : { ...base, output: plainSchema(m.output), errors }
  }
  return { name: c.name, version: c.version, description: c.description, methods }
}

/** The snapshot of several contracts; throws when two different contracts share a name. */
export function snapshotOf(contracts: Iterable<AnyContract>): ContractsSnapshot {
  const out: Record<string, ContractSnapshot> = {}
  for (const c of contracts) {
    const s = snapshotContract(c)
    const seen = out[c.name]
    if (seen !== undefined && JSON.stringify(seen) !== JSON.stringify(s)) throw new SnapshotError(`two different contracts are named '${c.name}'`)
    out[c.name] = s
  }
  return {
    format: SNAPSHOT_FORMAT,
    contracts: Object.fromEntries(
      Object.keys(out)
        .sort()
        .map((k) => [k, out[k]!]),
    ),
  }
}

/** A snapshot as the text of its file: stable key order, two-space indent, a final newline. */
export function formatSnapshot(s: ContractsSnapshot): string {
  return `${JSON.stringify(s, null, 2)}\n`
}

/** Reads a snapshot file's text; throws SnapshotError naming `source` and what is wrong. */
export function parseSnapshot(text: string, source: string): ContractsSnapshot {
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch (err) {
    throw new SnapshotError(`${source}: not JSON (${(err as Error).message})`, { cause: err })
  }
  const s = v as Partial<ContractsSnapshot> | null
  if (s?.format !== SNAPSHOT_FORMAT) throw new SnapshotError(`${source}: not a contracts snapshot (format must be '${SNAPSHOT_FORMAT}')`)
  if (typeof s.contracts !== 'object' || s.contracts === null) throw new SnapshotError(`${source}: 'contracts' must be an object`)
  for (const [name, c] of Object.entries(s.contracts)) {
    if (typeof c?.version !== 'string' || typeof c.methods !== 'object' || c.methods === null) {
      throw new SnapshotError(`${source}: contract '${name}' needs a version and methods`)
    }
    for (const [m, spec] of Object.entries(c.methods)) {
      if (typeof spec !== 'object' || spec === null || !('input' in spec) || !('output' in spec || 'stream' in spec) || typeof spec.errors !== 'object') {
        throw new SnapshotError(`${source}: method '${name}.${m}' needs input, output (or stream) and errors`)
      }
    }
  }
  return s as ContractsSnapshot
}
