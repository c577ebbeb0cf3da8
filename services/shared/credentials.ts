/**
 * A credentials directory (DESIGN §6; written by `npm run creds`, scripts/creds.ts): one nkey seed per role,
 * `<dir>/<role>.nk`, the secret a process of that role logs in with; during a rotation the seeds it replaced, under
 * `<dir>/previous/`; and `<dir>/permissions.conf`, nats-server's users of every role by public key with their
 * permissions (no secret). This file reads and renders; the script writes.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { nkeys } from '@nats-io/nats-core'
import { renderAuthorization, type RolePermissions } from './permissions.ts'

/** The variable that names a process's credentials directory. */
export const CREDS_DIR_VAR = 'SWITCHBOARD_CREDS_DIR'

/** The committed dev credentials, config/dev-creds: public, for development and tests only (config/permissions.conf renders them). */
export const DEV_CREDS_DIR = fileURLToPath(new URL('../../config/dev-creds', import.meta.url))

/** The subdirectory where a rotation keeps the seeds it replaced, until `npm run creds -- retire`. */
export const PREVIOUS_DIR = 'previous'

/** The file of a credentials directory that nats-server includes. */
export const PERMISSIONS_CONF_FILE = 'permissions.conf'

/** The seed file of `role` in `dir`: `<dir>/<role>.nk`. */
export const seedFile = (dir: string, role: string): string => join(dir, `${role}.nk`)

/** The seed file of `role` a rotation replaced: `<dir>/previous/<role>.nk`. */
export const previousSeedFile = (dir: string, role: string): string => seedFile(join(dir, PREVIOUS_DIR), role)

/** A new user nkey (public key `U…`): its seed, as a seed file holds it (one line, `SU…`). */
export function newSeed(): string {
  return new TextDecoder().decode(nkeys.createUser().getSeed())
}

/** The public key (`U…`) of a user seed. */
export function publicKeyOf(seed: Uint8Array | string): string {
  return nkeys.fromSeed(typeof seed === 'string' ? new TextEncoder().encode(seed) : seed).getPublicKey()
}

/**
 * Reads the user seed in `file` (one line, `SU…`; surrounding whitespace ignored). Throws an Error that names the file
 * and, after it, `hint` (where the path came from) when the file cannot be read or holds no user seed.
 */
export function readSeed(file: string, hint = ''): Uint8Array {
  const where = `${file}${hint === '' ? '' : ` (${hint})`}`
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new Error(`cannot read the nkey seed ${where}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  const seed = new TextEncoder().encode(text.trim())
  let key: string
  try {
    key = publicKeyOf(seed)
  } catch (err) {
    throw new Error(`${where} holds no nkey seed: ${(err as Error).message}`)
  }
  if (!key.startsWith('U')) throw new Error(`${where} holds an nkey seed, but not a user's (its public key starts with ${key[0]}, not U)`)
  return seed
}

/**
 * The public keys nats-server accepts for each of `roles` in `dir`: the current seed's, then, while a rotation is under
 * way, that of the seed it replaced. Throws (readSeed) when a role has no readable current seed.
 */
export function publicKeys(dir: string, roles: readonly string[]): Map<string, string[]> {
  return new Map(
    roles.map((role) => {
      const keys = [publicKeyOf(readSeed(seedFile(dir, role), 'run npm run creds -- init'))]
      const previous = previousSeedFile(dir, role)
      if (existsSync(previous)) keys.push(publicKeyOf(readSeed(previous)))
      return [role, keys]
    }),
  )
}

/**
 * The text of a permissions.conf: `header`, then the users of `roles` by their public keys in `dir` (publicKeys),
 * each with its role's permissions.
 */
export function renderPermissionsConf(header: string, dir: string, roles: readonly [string, RolePermissions][]): string {
  const keys = publicKeys(
    dir,
    roles.map(([role]) => role),
  )
  return header + renderAuthorization(roles, (role) => keys.get(role) ?? [])
}
