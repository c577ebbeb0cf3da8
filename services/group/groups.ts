import type { NatsConnection } from '@nats-io/nats-core'
import { nuid } from '@nats-io/nats-core'
import type { KV } from '@nats-io/kv'
import { encodeBody } from 'switchboard'
import { listKeys, openBucket, readValue, updateValue } from '../shared/state.ts'

export const GROUPS_BUCKET = 'sb_groups'

/** A stored group. */
export interface GroupRecord {
  readonly groupId: string
  readonly name: string
  readonly ownerId: string
  readonly members: readonly string[]
  readonly createdAt: number
}

/** Why a membership change was refused. */
export const Refusal = { missing: 'missing', notMember: 'notMember', notOwner: 'notOwner' } as const
export type Refusal = (typeof Refusal)[keyof typeof Refusal]

/**
 * Groups in a KV bucket: `g.<groupId>` holds the group with its members, `m.<userId>` the ids of the user's groups.
 * Every change is a compare-and-set, retried when it races another.
 */
export class Groups {
  private constructor(readonly kv: KV) {}

  static async open(nc: NatsConnection, replicas: number): Promise<Groups> {
    return new Groups(await openBucket(nc, GROUPS_BUCKET, replicas))
  }

  async create(name: string, ownerId: string): Promise<GroupRecord> {
    const g: GroupRecord = { groupId: nuid.next(), name, ownerId, members: [ownerId], createdAt: Date.now() }
    await this.kv.create(`g.${g.groupId}`, encodeBody(g))
    await this.#index(ownerId, g.groupId, true)
    return g
  }

  async get(groupId: string): Promise<GroupRecord | undefined> {
    return (await readValue<GroupRecord>(this.kv, `g.${groupId}`))?.value
  }

  /** Adds `userId` (a no-op when already a member). */
  async join(groupId: string, userId: string): Promise<Refusal | undefined> {
    const r = await updateValue<GroupRecord, Refusal | undefined>(this.kv, `g.${groupId}`, (g) => {
      if (g === undefined) return { result: Refusal.missing }
      if (g.members.includes(userId)) return { result: undefined }
      return { value: { ...g, members: [...g.members, userId] }, result: undefined }
    })
    if (r === undefined) await this.#index(userId, groupId, true)
    return r
  }

  /** Removes `userId`; when `byOwner` is set only that user, the owner, may do it. An owner who leaves hands the group on. */
  async remove(groupId: string, userId: string, byOwner?: string): Promise<Refusal | undefined> {
    const r = await updateValue<GroupRecord, Refusal | undefined>(this.kv, `g.${groupId}`, (g) => {
      if (g === undefined) return { result: Refusal.missing }
      if (byOwner !== undefined && g.ownerId !== byOwner) return { result: Refusal.notOwner }
      if (!g.members.includes(userId)) return { result: Refusal.notMember }
      const members = g.members.filter((m) => m !== userId)
      const ownerId = g.ownerId === userId && members.length > 0 ? members[0]! : g.ownerId
      return { value: { ...g, members, ownerId }, result: undefined }
    })
    if (r === undefined) await this.#index(userId, groupId, false)
    return r
  }

  /** The groups `userId` belongs to. */
  async of(userId: string): Promise<GroupRecord[]> {
    const ids = (await readValue<string[]>(this.kv, `m.${userId}`))?.value ?? []
    const groups = await Promise.all(ids.map((id) => this.get(id)))
    return groups.filter((g): g is GroupRecord => g?.members.includes(userId) === true)
  }

  async count(): Promise<number> {
    return (await listKeys(this.kv, 'g.>')).length
  }

  #index(userId: string, groupId: string, add: boolean): Promise<void> {
    return updateValue<string[]>(this.kv, `m.${userId}`, (cur = []) => {
      if (cur.includes(groupId) === add) return { result: undefined }
      return { value: add ? [...cur, groupId] : cur.filter((id) => id !== groupId), result: undefined }
    })
  }
}
