import { SEMVER } from '../contract.ts'

/** How far a version moved, or must move: semver's parts, largest last. */
export const Bump = { none: 'none', patch: 'patch', minor: 'minor', major: 'major' } as const
export type Bump = (typeof Bump)[keyof typeof Bump]

/** A version change: a bump, or a move back. */
export type VersionChange = Bump | 'downgrade'

const ORDER: readonly Bump[] = [Bump.none, Bump.patch, Bump.minor, Bump.major]

/** A version that is not semver. */
export class VersionError extends Error {
  override name = 'VersionError'
}

function parse(v: string): [number, number, number, string | undefined] {
  const m = SEMVER.exec(v)
  if (m === null) throw new VersionError(`'${v}' is not a semver version`)
  return [Number(m[1]), Number(m[2]), Number(m[3]), m[4]]
}

/**
 * The part of the version that moved from `from` to `to`. With the same major.minor.patch: a release after its
 * prerelease, or a later prerelease, counts as a patch; a prerelease after its release, or an earlier one, as a
 * downgrade; build metadata alone as none (semver gives it no precedence).
 */
export function bumpBetween(from: string, to: string): VersionChange {
  const a = parse(from)
  const b = parse(to)
  for (const [k, bump] of [
    [0, Bump.major],
    [1, Bump.minor],
    [2, Bump.patch],
  ] as const) {
    if (b[k] > a[k]) return bump
    if (b[k] < a[k]) return 'downgrade'
  }
  const [pa, pb] = [a[3], b[3]]
  if (pa === pb) return Bump.none
  if (pb === undefined) return Bump.patch
  if (pa === undefined) return 'downgrade'
  return comparePrerelease(pb, pa) > 0 ? Bump.patch : 'downgrade'
}

/** Semver's prerelease precedence: dot-separated, numeric parts numerically and below alphanumeric ones. */
function comparePrerelease(x: string, y: string): number {
  const xs = x.split('.')
  const ys = y.split('.')
  for (let k = 0; k < Math.max(xs.length, ys.length); k++) {
    const [p, q] = [xs[k], ys[k]]
    if (p === undefined) return -1
    if (q === undefined) return 1
    const [np, nq] = [/^\d+$/.test(p), /^\d+$/.test(q)]
    if (np && nq && Number(p) !== Number(q)) return Number(p) - Number(q)
    if (np !== nq) return np ? -1 : 1
    if (p !== q) return p < q ? -1 : 1
  }
  return 0
}

/**
 * Whether moving `from` by `has` is enough for changes that need `needs`. Before 1.0.0 (semver's "anything may
 * change") the parts shift as npm's caret ranges read them: a breaking change needs a minor bump, anything else a
 * patch.
 */
export function enoughBump(from: string, has: VersionChange, needs: Bump): boolean {
  if (has === 'downgrade') return needs === Bump.none
  return ORDER.indexOf(has) >= ORDER.indexOf(effective(from, needs))
}

/** The larger of two bumps. */
export function maxBump(a: Bump, b: Bump): Bump {
  return ORDER.indexOf(a) >= ORDER.indexOf(b) ? a : b
}

/** The lowest version after `from` that is enough for `needs`. */
export function requiredVersion(from: string, needs: Bump): string {
  const [major, minor, patch] = parse(from)
  switch (effective(from, needs)) {
    case Bump.major:
      return `${major + 1}.0.0`
    case Bump.minor:
      return `${major}.${minor + 1}.0`
    case Bump.patch:
      return `${major}.${minor}.${patch + 1}`
    default:
      return from
  }
}

function effective(from: string, needs: Bump): Bump {
  if (parse(from)[0] !== 0 || needs === Bump.none) return needs
  return needs === Bump.major ? Bump.minor : Bump.patch
}
