import { createHash } from 'node:crypto'
import type { AnyContract } from '../contract.ts'
import { snapshotContract, type ContractSnapshot, type MethodSnapshot } from './snapshot.ts'

/** Hex digits kept of a SHA-256: 64 bits, plenty to tell versions of one contract apart. */
const HASH_HEX = 16

/** The fingerprint of one method: a hash of its snapshot (schemas, declared errors, idempotent, description). */
export function methodHash(m: MethodSnapshot): string {
  return hash(JSON.stringify(m))
}

/**
 * The fingerprint of a contract's methods (name and methods; not its version or description): two instances with
 * the same one validate and answer alike.
 */
export function contractHash(c: ContractSnapshot): string {
  return hash(JSON.stringify([c.name, c.methods]))
}

export interface ContractFingerprint {
  readonly contract: string
  readonly methods: Readonly<Record<string, string>>
}

const cache = new WeakMap<AnyContract, ContractFingerprint>()

/** The fingerprints of a contract and each of its methods, computed once per contract object. */
export function fingerprintOf(c: AnyContract): ContractFingerprint {
  let f = cache.get(c)
  if (f === undefined) {
    const s = snapshotContract(c)
    const methods: Record<string, string> = {}
    for (const [name, m] of Object.entries(s.methods)) methods[name] = methodHash(m)
    cache.set(c, (f = Object.freeze({ contract: contractHash(s), methods: Object.freeze(methods) })))
  }
  return f
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, HASH_HEX)
}
