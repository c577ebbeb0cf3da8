/**
 * The committed dev credentials (config/dev-creds, and the `<role>-dev-pw` passwords of servers that still use
 * passwords) are public: they belong in development and tests only. devCredentialsInUse tells which of a process's
 * credentials are dev ones, for a production check to refuse.
 */
import { readdirSync } from 'node:fs'
import { resolve } from 'node:path'
import { type CredentialVars, DEFAULT_CREDENTIAL_VARS } from './connect.ts'
import { CREDS_DIR_VAR, DEV_CREDS_DIR, publicKeyOf, readSeed, seedFile } from './credentials.ts'

const seedRoles = (dir: string): string[] => {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.nk'))
      .map((f) => f.slice(0, -'.nk'.length))
  } catch {
    return []
  }
}

let devKeys: Map<string, string> | undefined

/** The public keys of the dev seeds (config/dev-creds/*.nk), each with its role. */
export function devPublicKeys(): ReadonlyMap<string, string> {
  devKeys ??= new Map(seedRoles(DEV_CREDS_DIR).map((role) => [publicKeyOf(readSeed(seedFile(DEV_CREDS_DIR, role))), role]))
  return devKeys
}

/**
 * The dev credentials a process with environment `env` would log in with, on the connections `vars` name (its first
 * one by default; add FEED_CREDENTIAL_VARS or READS_CREDENTIAL_VARS for its second): one human-readable problem each,
 * none when it uses only its own. Reads the seed files of SWITCHBOARD_CREDS_DIR; writes nothing.
 */
export function devCredentialsInUse(env: Readonly<Record<string, string | undefined>>, vars: readonly CredentialVars[] = [DEFAULT_CREDENTIAL_VARS]): string[] {
  const problems: string[] = []
  const dir = env[CREDS_DIR_VAR]
  if (vars.some((v) => !env[v.pass])) {
    if (!dir) problems.push(`${CREDS_DIR_VAR} is not set: the dev seeds of config/dev-creds are in use`)
    else if (resolve(dir) === resolve(DEV_CREDS_DIR)) problems.push(`${CREDS_DIR_VAR} is config/dev-creds: the dev seeds are in use`)
    else {
      const dev = devPublicKeys()
      for (const role of seedRoles(dir)) {
        const file = seedFile(dir, role)
        let key: string
        try {
          key = publicKeyOf(readSeed(file))
        } catch {
          continue // not a dev seed; connecting with it says what is wrong
        }
        const of = dev.get(key)
        if (of !== undefined) problems.push(`${file} is the dev seed of ${of} (config/dev-creds/${of}.nk)`)
      }
    }
  }
  for (const v of vars) {
    const role = /^(.+)-dev-pw$/.exec(env[v.pass] ?? '')?.[1]
    if (role !== undefined) problems.push(`${v.pass} is the dev password of ${role} (${role}-dev-pw)`)
  }
  return problems
}
