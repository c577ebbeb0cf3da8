import type { AnyContract } from '../contract.ts'
import { plainSchema, type JsonSchema } from '../evolution/canonical.ts'
import { diffService, Verdict, verdictOf, type Change } from '../evolution/contract-diff.ts'
import { fingerprintOf } from '../evolution/fingerprint.ts'
import { bumpBetween, VersionError } from '../evolution/semver.ts'
import type { ContractSnapshot, MethodSnapshot } from '../evolution/snapshot.ts'
import { endpointMetadata, MicroMeta, type MicroInfo } from './micro.ts'

/**
 * How one worker instance's contract stands to a caller's:
 * - `same`: the same contract hash;
 * - `compatible`: the instance's contract is the caller's or a compatible evolution of it (the caller is an "old
 *   caller" of a newer worker: docs/evolution.md);
 * - `behind`: the reverse: the instance runs an older version, of which the caller's is a compatible evolution.
 *   Calls to methods it lacks are routed to instances that have them; fields the caller's version added are not
 *   there;
 * - `breaking`: neither contract is a compatible evolution of the other (or the instance's claims a newer version
 *   and is not a compatible evolution of the caller's);
 * - `unknown`: the checker cannot judge a change either way, or the instance publishes no schemas.
 */
export const Skew = { same: 'same', compatible: 'compatible', behind: 'behind', breaking: 'breaking', unknown: 'unknown' } as const
export type Skew = (typeof Skew)[keyof typeof Skew]

/** A caller's contract against one instance's, as the skew watch and `switchboard ls` report it. */
export interface SkewReport {
  readonly service: string
  readonly instance: string
  /** The instance's contract version. */
  readonly version: string
  /** The caller's contract version. */
  readonly localVersion: string
  readonly skew: Skew
  /** Methods the caller has and the instance does not serve. */
  readonly missing: readonly string[]
  /** The changes that decided the verdict (at most MAX_CHANGES), empty when `same` or `compatible`. */
  readonly changes: readonly Change[]
}

/** Changes kept per report: enough to say what is wrong, small enough for a log line. */
const MAX_CHANGES = 5

interface EndpointLike {
  readonly name: string
  readonly metadata?: Readonly<Record<string, string>> | null
}

/**
 * The contract an instance publishes in `$SRV.INFO`, as a snapshot; undefined when an endpoint lacks the schemas
 * (not a switchboard worker). INFO's JSON cannot hold TypeBox refinements, so neither side of a comparison has them.
 */
export function snapshotFromInfo(info: MicroInfo): ContractSnapshot | undefined {
  return snapshotOfEndpoints(info.name, info.version, info.description ?? '', info.endpoints ?? [])
}

/** A contract as its workers publish it in `$SRV.INFO` (what snapshotFromInfo reads back). Pure. */
export function publishedSnapshot(c: AnyContract): ContractSnapshot {
  const endpoints = Object.entries(c.methods).map(([name, spec]) => ({ name, metadata: endpointMetadata(spec) }))
  return snapshotOfEndpoints(c.name, c.version, c.description, endpoints)!
}

function snapshotOfEndpoints(name: string, version: string, description: string, endpoints: readonly EndpointLike[]): ContractSnapshot | undefined {
  const methods: Record<string, MethodSnapshot> = {}
  for (const e of [...endpoints].sort((a, b) => a.name.localeCompare(b.name))) {
    const meta = e.metadata ?? {}
    const input = schemaOf(meta[MicroMeta.Input])
    const output = schemaOf(meta[MicroMeta.Output])
    const stream = schemaOf(meta[MicroMeta.Stream])
    const declared = parse(meta[MicroMeta.Errors])
    if (input === undefined || (output === undefined) === (stream === undefined) || typeof declared !== 'object' || declared === null) return undefined
    const errors: Record<string, { status: number; data?: JsonSchema | boolean }> = {}
    for (const code of Object.keys(declared).sort()) {
      const d = (declared as Record<string, { status?: unknown; data?: unknown }>)[code]!
      const data = d.data === undefined ? undefined : schemaOf(d.data)
      errors[code] = data === undefined ? { status: Number(d.status) } : { status: Number(d.status), data }
    }
    const base = { description: meta[MicroMeta.Description] ?? '', idempotent: meta[MicroMeta.Idempotent] === 'true', input }
    methods[e.name] = stream === undefined ? { ...base, output, errors } : { ...base, stream, errors }
  }
  return { name, version, description, methods }
}

function parse(s: string | undefined): unknown {
  if (s === undefined) return undefined
  try {
    return JSON.parse(s)
  } catch {
    return undefined
  }
}

function schemaOf(v: unknown): JsonSchema | boolean | undefined {
  const s = typeof v === 'string' ? parse(v) : v
  return typeof s === 'boolean' || (typeof s === 'object' && s !== null && !Array.isArray(s)) ? plainSchema(s as JsonSchema) : undefined
}

const notCompatible = (c: Change) => c.verdict !== Verdict.compatible

/** How the instance that sent `info` stands to a caller built against `local`. Pure. */
export function skewOf(local: AnyContract, info: MicroInfo): SkewReport {
  const base = { service: info.name, instance: info.id, version: info.version, localVersion: local.version }
  const remote = snapshotFromInfo(info)
  if (remote === undefined) {
    const detail = 'the instance publishes no schemas in $SRV.INFO (not a switchboard worker?)'
    return { ...base, skew: Skew.unknown, missing: [], changes: [{ where: info.name, verdict: Verdict.unknown, bump: 'major', detail }] }
  }
  const mine = publishedSnapshot(local)
  const missing = Object.keys(mine.methods).filter((m) => remote.methods[m] === undefined)
  if (info.metadata?.[MicroMeta.ContractHash] === fingerprintOf(local).contract) return { ...base, skew: Skew.same, missing, changes: [] }
  const forward = diffService(local.name, mine, remote).changes
  if (verdictOf(forward) === Verdict.compatible) {
    if (forward.length > 0 || info.metadata?.[MicroMeta.ContractHash] === undefined) return { ...base, skew: Skew.compatible, missing, changes: [] }
    // the hashes differ, the published schemas do not: only what INFO cannot show (a refinement) changed
    const detail = 'the contracts differ in what $SRV.INFO cannot show (a Type.Refine check?)'
    return { ...base, skew: Skew.unknown, missing, changes: [{ where: info.name, verdict: Verdict.unknown, bump: 'major', detail }] }
  }
  const backward = diffService(local.name, remote, mine).changes
  if (verdictOf(backward) === Verdict.compatible && byVersion(remote.version, mine.version) < 0)
    return { ...base, skew: Skew.behind, missing, changes: forward.filter(notCompatible).slice(0, MAX_CHANGES) }
  const unknown = verdictOf(forward) === Verdict.unknown || verdictOf(backward) === Verdict.unknown
  return { ...base, skew: unknown ? Skew.unknown : Skew.breaking, missing, changes: forward.filter(notCompatible).slice(0, MAX_CHANGES) }
}

/** The contracts the instances of one service run, and whether they may run side by side. */
export interface ServiceMix {
  readonly service: string
  /** One entry per distinct contract, oldest version first. */
  readonly variants: readonly { readonly version: string; readonly hash: string; readonly instances: readonly string[] }[]
  /**
   * `single`: one contract; `compatible`: each version is a compatible evolution of the one before; `breaking` /
   * `unknown`: some step is not (see `changes`).
   */
  readonly verdict: 'single' | Verdict
  /** The steps' breaking or unknown changes (at most MAX_CHANGES). */
  readonly changes: readonly Change[]
}

/** Whether the instances of one service (their INFO replies) run contracts that may serve side by side. Pure. */
export function mixOf(service: string, infos: readonly MicroInfo[]): ServiceMix {
  const byHash = new Map<string, { version: string; hash: string; instances: string[]; snapshot: ContractSnapshot | undefined }>()
  for (const info of infos) {
    const snapshot = snapshotFromInfo(info)
    const hash = info.metadata?.[MicroMeta.ContractHash] ?? (snapshot === undefined ? `?${info.id}` : JSON.stringify(snapshot.methods))
    const v = byHash.get(hash)
    if (v === undefined) byHash.set(hash, { version: info.version, hash, instances: [info.id], snapshot })
    else v.instances.push(info.id)
  }
  const variants = [...byHash.values()].sort((a, b) => byVersion(a.version, b.version))
  const changes: Change[] = []
  for (let i = 1; i < variants.length; i++) {
    const [a, b] = [variants[i - 1]!, variants[i]!]
    if (a.snapshot === undefined || b.snapshot === undefined) {
      changes.push({ where: service, verdict: Verdict.unknown, bump: 'major', detail: 'an instance publishes no schemas in $SRV.INFO' })
      continue
    }
    const step = diffService(service, a.snapshot, b.snapshot).changes.filter(notCompatible)
    changes.push(...step.map((c) => ({ ...c, detail: `${a.version} → ${b.version}: ${c.detail}` })))
  }
  return {
    service,
    variants: variants.map(({ version, hash, instances }) => ({ version, hash, instances: instances.sort() })),
    verdict: variants.length <= 1 ? 'single' : verdictOf(changes),
    changes: changes.slice(0, MAX_CHANGES),
  }
}

/** Semver order, falling back to text order for versions that are not semver. */
function byVersion(a: string, b: string): number {
  try {
    const d = bumpBetween(a, b)
    return d === 'none' ? 0 : d === 'downgrade' ? 1 : -1
  } catch (err) {
    if (err instanceof VersionError) return a.localeCompare(b, undefined, { numeric: true })
    throw err
  }
}
