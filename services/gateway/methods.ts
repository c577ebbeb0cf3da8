import type { AnyContract } from 'switchboard'
import { MODULES } from '../registry.ts'
import { Access } from '../shared/module.ts'

export { Access } from '../shared/module.ts'

/** One method a WebSocket client may call. */
export interface CallableMethod {
  readonly contract: AnyContract
  readonly method: string
  readonly access: typeof Access.public | typeof Access.auth
}

const entries = Object.values(MODULES).flatMap((m) =>
  Object.entries(m.gateway as Record<string, Access>).map(([method, access]) => ({
    contract: m.contract as AnyContract,
    method,
    access,
    call: `${m.name}.${method}`,
  })),
)

/**
 * The allow-list: every method a client may call, by `service.method`, from each module's `gateway` table
 * (services/<name>/module.ts). Methods marked `internal` (user.verify, user.lookup, the stats methods) are left out.
 */
export const CALLABLE: ReadonlyMap<string, CallableMethod> = new Map(
  entries.flatMap(({ contract, method, access, call }) => (access === Access.internal ? [] : [[call, { contract, method, access }] as const])),
)

/** Methods that only modules call each other with; the gateway refuses them like any name it does not know. */
export const INTERNAL_METHODS: ReadonlySet<string> = new Set(entries.filter((e) => e.access === Access.internal).map((e) => e.call))

/** The gateway's own calls, answered without a module. */
export const GatewayCall = {
  /** Attaches the socket to an existing session token (e.g. after a page reload). */
  resume: 'session.resume',
} as const

/** The chat contracts, in registry order. */
export const CHAT_CONTRACTS: readonly AnyContract[] = Object.values(MODULES).map((m) => m.contract)
