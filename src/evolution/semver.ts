/** How far a version moved, or must move: semver's parts, largest last. */
export const Bump = { none: 'none', patch: 'patch', minor: 'minor', major: 'major' } as const
export type Bump = (typeof Bump)[keyof typeof Bump]

/** A version change: a bump, or a move back. */
export type VersionChange = Bump | 'downgrade'

const ORDER: readonly Bump[] = [Bump.none, Bump.patch, Bump.minor, Bump.major]
const SEMVER = /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/

/** A version that is not semver. */
export class VersionError extends Error {
  override name = 'VersionError'
}

function parse(v: string): [number, number, number, string | undefined] {
  const m = SEMVER.exec(v)
  if (m === null) throw new VersionError(`'${v}' is not a semver version`)
  return [Number(m[1]), Number(m[2]), Number(m[3]), m[4]]
}

/** The part of the version that moved from `from` to `to` (a prerelease or build change alone counts as a patch). */
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
  return from === to ? Bump.none : Bump.patch
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
