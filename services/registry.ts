/**
 * The chat modules: the one list a new module is added to (docs/adding-a-module.md). Each module declares itself in
 * `services/<name>/module.ts`; `npm start`, `npm run worker`, the gateway's callable table, the test harness and
 * config/permissions.conf (`npm run permissions`) are derived from this list.
 */
import { adminModule } from './admin/module.ts'
import { friendModule } from './friend/module.ts'
import { groupModule } from './group/module.ts'
import { messageModule } from './message/module.ts'
import type { ChatModule } from './shared/module.ts'
import { userModule } from './user/module.ts'

/** The modules by name, in start order (user first: the others call it). */
export const MODULES = {
  user: userModule,
  friend: friendModule,
  group: groupModule,
  message: messageModule,
  admin: adminModule,
} as const satisfies { readonly [name: string]: ChatModule }

export type ModuleName = keyof typeof MODULES
/** Every module name, in start order. */
export const MODULE_NAMES = Object.keys(MODULES) as ModuleName[]

/** The contract of module `name`. */
export type ContractOf<N extends ModuleName> = (typeof MODULES)[N]['contract']

export function isModuleName(s: string | undefined): s is ModuleName {
  return s !== undefined && Object.hasOwn(MODULES, s)
}

/** The NATS roles (users in config/permissions.conf): one per module, the gateway, and `client` (CLI, tests, benches). */
export const ROLES = [...MODULE_NAMES, 'gateway', 'client'] as const
export type Role = ModuleName | 'gateway' | 'client'
