import type { NatsConnection, Subscription } from '@nats-io/nats-core'
import { decodeBody, type CallContext } from 'switchboard'
import { Group } from '../group/contract.ts'
import type { AuthState } from '../shared/auth.ts'
import { User } from '../user/contract.ts'

/** Options of the message module's directory; unset fields take their value from DEFAULT_DIRECTORY_OPTIONS. */
export interface DirectoryOptions {
  /** How long a group's member list is trusted without asking again, in ms (a change event forgets it at once). */
  readonly membersTtlMs?: number
  /** Entries kept in each cache before the oldest make room. */
  readonly maxEntries?: number
}

export const DEFAULT_DIRECTORY_OPTIONS = { membersTtlMs: 10_000, maxEntries: 20_000 } as const satisfies DirectoryOptions

/**
 * What the message module asks the user and group modules on the way of every message, remembered: usernames (an
 * account's id never changes, so a name is looked up once) and group member lists (until the group module announces
 * a change on `evt.group.<groupId>`, or `membersTtlMs` passes). The hot path then makes no nested call.
 */
export class Directory {
  readonly #users = new Map<string, Promise<{ userId: string; username: string }>>()
  readonly #members = new Map<string, { members: Promise<readonly string[]>; until: number }>()
  readonly #opts: Required<DirectoryOptions>
  #sub: Subscription | undefined = undefined

  constructor(
    readonly nc: NatsConnection,
    options: DirectoryOptions = {},
  ) {
    this.#opts = { ...DEFAULT_DIRECTORY_OPTIONS, ...options }
  }

  /** Listens to group changes. */
  start(): void {
    this.#sub ??= this.nc.subscribe('evt.group.*', {
      callback: (err, msg) => {
        if (err !== null) return
        this.#members.delete(msg.subject.slice('evt.group.'.length))
        try {
          const v = decodeBody(msg.data) as { groupId?: unknown }
          if (typeof v?.groupId === 'string') this.#members.delete(v.groupId)
        } catch {
          // the subject said which group
        }
      },
    })
  }

  stop(): void {
    this.#sub?.unsubscribe()
    this.#sub = undefined
  }

  /** The account of `username` (NOT_FOUND from the user module when there is none; a failure is not remembered). */
  user(ctx: CallContext<AuthState>, username: string): Promise<{ userId: string; username: string }> {
    let hit = this.#users.get(username)
    if (hit === undefined) {
      if (this.#users.size >= this.#opts.maxEntries) this.#users.delete(this.#users.keys().next().value!)
      hit = ctx.client(User).lookup({ username })
      this.#users.set(username, hit)
      hit.catch(() => this.#users.delete(username))
    }
    return hit
  }

  /** The member ids of a group (NOT_FOUND when there is none). */
  members(ctx: CallContext<AuthState>, groupId: string): Promise<readonly string[]> {
    const now = Date.now()
    const hit = this.#members.get(groupId)
    if (hit !== undefined && hit.until > now) return hit.members
    if (this.#members.size >= this.#opts.maxEntries) this.#members.delete(this.#members.keys().next().value!)
    const members = ctx
      .client(Group)
      .memberIds({ groupId })
      .then((r) => r.members)
    const entry = { members, until: now + this.#opts.membersTtlMs }
    this.#members.set(groupId, entry)
    members.catch(() => {
      if (this.#members.get(groupId) === entry) this.#members.delete(groupId)
    })
    return members
  }
}
