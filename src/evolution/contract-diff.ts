import { canonicalSchema, type JsonSchema } from './canonical.ts'
import { Subset, subsetFindings, subsetOf, type Finding } from './schema-subset.ts'
import type { ContractSnapshot, ContractsSnapshot, MethodSnapshot } from './snapshot.ts'
import { Bump, bumpBetween, enoughBump, maxBump, requiredVersion, type VersionChange } from './semver.ts'

/** What a change does to the callers and workers of the old version. */
export const Verdict = { compatible: 'compatible', breaking: 'breaking', unknown: 'unknown' } as const
export type Verdict = (typeof Verdict)[keyof typeof Verdict]

/** One change between two versions of a contract. */
export interface Change {
  /** `service`, `service.method`, or `service.method input|output|error CODE`. */
  readonly where: string
  readonly verdict: Verdict
  /** The semver bump this change needs on its own. */
  readonly bump: Bump
  readonly detail: string
}

/** The changes of one service between two snapshots, and whether its version moved enough for them. */
export interface ServiceDiff {
  readonly service: string
  readonly from: string | undefined
  readonly to: string | undefined
  readonly changes: readonly Change[]
  /** The largest bump its changes need ("unknown" ones count as breaking). */
  readonly needs: Bump
  readonly has: VersionChange
  /** The version moved at least as far as its changes need (semver; in 0.x a breaking change needs a minor bump). */
  readonly enough: boolean
  /** The lowest version that would be enough, when `enough` is false. */
  readonly suggested: string | undefined
}

/**
 * Compares two snapshots service by service. The rules (docs/evolution.md): an input may widen, never narrow (old
 * callers' values must still pass the new worker's validation); an output and the `data` of a declared error may
 * narrow, never widen (old callers' types must still describe what new workers send); declared codes may be added,
 * not removed or renumbered; methods may be added, not removed; idempotent may be turned on, not off (old callers
 * would retry a call that is no longer safe to repeat).
 */
export function diffSnapshots(before: ContractsSnapshot, after: ContractsSnapshot): ServiceDiff[] {
  const names = [...new Set([...Object.keys(before.contracts), ...Object.keys(after.contracts)])].sort()
  return names.map((name) => diffService(name, before.contracts[name], after.contracts[name])).filter((d) => d.changes.length > 0 || d.from !== d.to)
}

/** The verdict of a whole diff: breaking when any change is, else unknown when any is, else compatible. */
export function overallVerdict(diffs: readonly ServiceDiff[]): Verdict {
  return verdictOf(diffs.flatMap((d) => d.changes))
}

/** The verdict of a list of changes: breaking when any is, else unknown when any is, else compatible. */
export function verdictOf(all: readonly Change[]): Verdict {
  if (all.some((c) => c.verdict === Verdict.breaking)) return Verdict.breaking
  return all.some((c) => c.verdict === Verdict.unknown) ? Verdict.unknown : Verdict.compatible
}

/** The changes of one contract from `a` to `b` (either may be absent: a service added or removed). */
export function diffService(name: string, a: ContractSnapshot | undefined, b: ContractSnapshot | undefined): ServiceDiff {
  const changes: Change[] = []
  if (a === undefined) changes.push({ where: name, verdict: Verdict.compatible, bump: Bump.minor, detail: 'new service' })
  else if (b === undefined) changes.push({ where: name, verdict: Verdict.breaking, bump: Bump.major, detail: 'service removed: its callers get no responders' })
  else {
    if (a.description !== b.description) changes.push({ where: name, verdict: Verdict.compatible, bump: Bump.patch, detail: 'description changed' })
    for (const m of [...new Set([...Object.keys(a.methods), ...Object.keys(b.methods)])].sort()) {
      changes.push(...diffMethod(`${name}.${m}`, a.methods[m], b.methods[m]))
    }
  }
  const needs = changes.reduce<Bump>((acc, c) => maxBump(acc, c.verdict === Verdict.unknown ? Bump.major : c.bump), Bump.none)
  const has = a === undefined || b === undefined ? Bump.none : bumpBetween(a.version, b.version)
  const enough = a === undefined || b === undefined || enoughBump(a.version, has, needs)
  return {
    service: name,
    from: a?.version,
    to: b?.version,
    changes,
    needs,
    has,
    enough,
    suggested: enough || a === undefined ? undefined : requiredVersion(a.version, needs),
  }
}

function diffMethod(where: string, a: MethodSnapshot | undefined, b: MethodSnapshot | undefined): Change[] {
  if (a === undefined) return [{ where, verdict: Verdict.compatible, bump: Bump.minor, detail: 'new method (old workers answer UNIMPLEMENTED)' }]
  if (b === undefined) return [{ where, verdict: Verdict.breaking, bump: Bump.major, detail: 'method removed: old callers get UNIMPLEMENTED' }]
  const out: Change[] = []
  if (a.description !== b.description) out.push({ where, verdict: Verdict.compatible, bump: Bump.patch, detail: 'description changed' })
  if (a.idempotent && !b.idempotent) {
    out.push({ where, verdict: Verdict.breaking, bump: Bump.major, detail: 'no longer idempotent: old callers retry it on UNAVAILABLE and DEADLINE_EXCEEDED' })
  }
  if (!a.idempotent && b.idempotent) out.push({ where, verdict: Verdict.compatible, bump: Bump.minor, detail: 'now idempotent: new callers may retry it' })
  out.push(...schemaChange(`${where} input`, a.input, b.input, 'widen'))
  if ((a.stream === undefined) !== (b.stream === undefined)) {
    const detail = a.stream === undefined ? 'now a stream method: old callers expect one reply' : 'no longer a stream method: old callers expect a stream'
    out.push({ where, verdict: Verdict.breaking, bump: Bump.major, detail })
  } else if (a.stream !== undefined) out.push(...schemaChange(`${where} stream`, a.stream, b.stream!, 'narrow'))
  else out.push(...schemaChange(`${where} output`, a.output ?? {}, b.output ?? {}, 'narrow'))
  for (const code of [...new Set([...Object.keys(a.errors), ...Object.keys(b.errors)])].sort()) {
    const at = `${where} error ${code}`
    const [ea, eb] = [a.errors[code], b.errors[code]]
    if (ea === undefined)
      out.push({
        where: at,
        verdict: Verdict.compatible,
        bump: Bump.minor,
        detail: `new declared error (status ${eb!.status}); old callers see an RpcError with a code they do not declare`,
      })
    else if (eb === undefined)
      out.push({ where: at, verdict: Verdict.breaking, bump: Bump.major, detail: 'declared error removed: callers that handle it are told it cannot happen' })
    else {
      if (ea.status !== eb.status)
        out.push({ where: at, verdict: Verdict.breaking, bump: Bump.major, detail: `status renumbered from ${ea.status} to ${eb.status}` })
      if (ea.data !== undefined && eb.data === undefined)
        out.push({ where: at, verdict: Verdict.breaking, bump: Bump.major, detail: 'its data is gone: old callers read it' })
      else if (eb.data !== undefined) out.push(...schemaChange(`${at} data`, ea.data ?? {}, eb.data, 'narrow'))
    }
  }
  return out
}

/**
 * A schema that may only `widen` (an input: the new one accepts all the old one did) or only `narrow` (an output:
 * the old one accepts all the new one can hold).
 */
function schemaChange(where: string, a: JsonSchema | boolean, b: JsonSchema | boolean, may: 'widen' | 'narrow'): Change[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return []
  if (JSON.stringify(canonicalSchema(a)) === JSON.stringify(canonicalSchema(b))) {
    return [{ where, verdict: Verdict.compatible, bump: Bump.patch, detail: 'annotations changed (descriptions, defaults): validation is the same' }]
  }
  const findings = may === 'widen' ? subsetFindings(a, b) : subsetFindings(b, a)
  const result = subsetOf(findings)
  if (result === Subset.yes) {
    const reverse = subsetOf(may === 'widen' ? subsetFindings(b, a) : subsetFindings(a, b))
    const detail =
      reverse === Subset.yes
        ? 'rewritten, accepts the same values'
        : may === 'widen'
          ? 'widened: every value accepted before still is'
          : 'narrowed: every value it holds now was valid before'
    return [{ where, verdict: Verdict.compatible, bump: reverse === Subset.yes ? Bump.patch : Bump.minor, detail }]
  }
  // the reasons read from the side of the schema checked against: for an output, the new one against the old one
  const who = may === 'widen' ? 'a value old callers may send is refused now' : 'new workers may send what old callers do not expect'
  const lead = may === 'widen' ? '' : 'the new schema against the old one: '
  return findings
    .filter((f) => result === Subset.unknown || f.result === Subset.no)
    .map((f: Finding) => ({
      where,
      verdict: f.result === Subset.no ? Verdict.breaking : Verdict.unknown,
      bump: Bump.major,
      detail: `${f.path}: ${lead}${f.reason}${f.result === Subset.no ? ` (${who})` : ''}`,
    }))
}
