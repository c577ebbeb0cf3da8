import type { NatsConnection } from '@nats-io/nats-core'
import type { AnyContract, MethodName, Worker } from 'switchboard'
import type { ChatOptions } from './options.ts'

/** How the gateway treats a method: `public` needs no session, `auth` sends the session's token, `internal` is refused. */
export const Access = { public: 'public', auth: 'auth', internal: 'internal' } as const
export type Access = (typeof Access)[keyof typeof Access]

/** What a module's NATS user may do beyond what every module may (services/registry.ts, `modulePermissions`). */
export interface ModuleNats {
  /** More subjects it publishes to (e.g. the message module's stream subjects `msg.>`). */
  readonly publish?: readonly string[]
  /** More subjects it subscribes to. */
  readonly subscribe?: readonly string[]
  /** Whether it may publish `chat.broadcast` and `chat.online`, which every other module is denied. */
  readonly broadcast?: boolean
  /**
   * A stream it reads through consumers. Those reads go on a second connection, as role `<name>-reads`, whose user
   * may read that stream and may not answer requests: nats-server keeps every reply subject delivered to a
   * connection that may answer (2 min) and scans them all on each delivery past 4,096, and a consumer's ack subjects
   * are never answered (docs/security.md).
   */
  readonly reads?: { readonly stream: string }
}

/**
 * One chat module, declared in one file (`services/<name>/module.ts`): its contract, how to start a worker, how
 * many copies `npm start` runs, what the gateway lets clients call, and its NATS permissions. The registry
 * (services/registry.ts) lists the modules; `npm start`, the worker entry point, the gateway's callable table, the
 * test harness and config/permissions.conf are derived from it.
 */
export interface ChatModule<C extends AnyContract = AnyContract> {
  readonly name: C['name']
  readonly contract: C
  /**
   * Starts one worker on `nc` (and `reads`, its second connection, when `nats.reads` asks for one); loads the
   * worker's code only when called (the gateway imports contracts only).
   */
  readonly start: (nc: NatsConnection, options?: Partial<ChatOptions>, reads?: NatsConnection) => Promise<Worker<C>>
  /** Copies `npm start` runs (default 1). */
  readonly copies: number
  /** Every method's gateway access: a method added to the contract without a decision does not compile. */
  readonly gateway: { readonly [K in MethodName<C>]: Access }
  readonly nats: ModuleNats
}

/** Declares a chat module; checks what the types cannot. */
export function defineModule<C extends AnyContract>(
  m: Omit<ChatModule<C>, 'name' | 'copies' | 'nats'> & { copies?: number; nats?: ModuleNats },
): ChatModule<C> {
  const copies = m.copies ?? 1
  if (!Number.isInteger(copies) || copies < 1) throw new TypeError(`module ${m.contract.name}: copies must be a positive integer`)
  for (const method of Object.keys(m.contract.methods)) {
    if (!Object.hasOwn(m.gateway, method)) throw new TypeError(`module ${m.contract.name}: no gateway access for ${method}`)
  }
  return Object.freeze({ ...m, name: m.contract.name, copies, nats: m.nats ?? {} })
}
