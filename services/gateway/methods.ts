import type { AnyContract } from 'switchboard'
import { Admin } from '../admin/contract.ts'
import { Friend } from '../friend/contract.ts'
import { Group } from '../group/contract.ts'
import { MessageService } from '../message/contract.ts'
import { User } from '../user/contract.ts'

/** How the gateway treats a call: `public` needs no session, `auth` sends the session's token. */
export const Access = { public: 'public', auth: 'auth' } as const
export type Access = (typeof Access)[keyof typeof Access]

/** One method a WebSocket client may call. */
export interface CallableMethod {
  readonly contract: AnyContract
  readonly method: string
  readonly access: Access
}

/**
 * The allow-list: every method of the chat contracts that a client may call, by `service.method`.
 * Internal methods (user.verify, user.lookup, user.profiles) are left out on purpose.
 */
export const CALLABLE: ReadonlyMap<string, CallableMethod> = new Map(
  (
    [
      [User, 'register', Access.public],
      [User, 'login', Access.public],
      [User, 'logout', Access.auth],
      [User, 'whoami', Access.auth],
      [Friend, 'add', Access.auth],
      [Friend, 'remove', Access.auth],
      [Friend, 'list', Access.auth],
      [Group, 'create', Access.auth],
      [Group, 'join', Access.auth],
      [Group, 'leave', Access.auth],
      [Group, 'kick', Access.auth],
      [Group, 'members', Access.auth],
      [Group, 'mine', Access.auth],
      [MessageService, 'send', Access.auth],
      [MessageService, 'sendGroup', Access.auth],
      [MessageService, 'offline', Access.auth],
      [MessageService, 'history', Access.auth],
      [Admin, 'broadcast', Access.auth],
      [Admin, 'stats', Access.auth],
    ] as const
  ).map(([contract, method, access]) => {
    if (!Object.hasOwn(contract.methods, method)) throw new TypeError(`${contract.name} has no method '${method}'`)
    return [`${contract.name}.${method}`, { contract, method, access }] as const
  }),
)

/** The gateway's own calls, answered without a module. */
export const GatewayCall = {
  /** Attaches the socket to an existing session token (e.g. after a page reload). */
  resume: 'session.resume',
} as const

/** The chat contracts, in the order the allow-list names them. */
export const CHAT_CONTRACTS: readonly AnyContract[] = [User, Friend, Group, MessageService, Admin]

/**
 * Methods that only modules call each other with; the gateway refuses them. Every method of CHAT_CONTRACTS is either
 * in CALLABLE or here (a test checks it), so a new method needs a decision.
 */
export const INTERNAL_METHODS: ReadonlySet<string> = new Set(['user.verify', 'user.lookup', 'user.profiles', 'user.stats', 'group.stats', 'message.stats'])
