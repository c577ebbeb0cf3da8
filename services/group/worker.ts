import type { NatsConnection } from '@nats-io/nats-core'
import { encodeBody, type Worker } from 'switchboard'
import { admin, caller } from '../shared/auth.ts'
import { unreadCounts } from '../shared/unread.ts'
import { serveChatModule } from '../shared/serve-module.ts'
import { resolveChatOptions, type ChatOptions } from '../shared/options.ts'
import { User } from '../user/contract.ts'
import { Group, groupEvent } from './contract.ts'
import { Groups, Refusal } from './groups.ts'

/** Starts a worker of the group module: groups and their members in a KV bucket; names resolved by the user module. */
export async function startGroupWorker(nc: NatsConnection, options: Partial<ChatOptions> = {}): Promise<Worker<typeof Group>> {
  const o = resolveChatOptions(options)
  const groups = await Groups.open(nc, o.replicas)
  const missing = (groupId: string) => `no group '${groupId}'`
  /** Tells the caches of member lists (the message module's) that a group changed. */
  const changed = (groupId: string) => nc.publish(groupEvent(groupId), encodeBody({ groupId }))
  return serveChatModule(
    nc,
    Group,
    {
      async create({ name }, ctx) {
        const g = await groups.create(name, caller(ctx).userId)
        return { groupId: g.groupId }
      },
      async join({ groupId }, ctx) {
        if ((await groups.join(groupId, caller(ctx).userId)) === Refusal.missing) throw ctx.error('NOT_FOUND', missing(groupId))
        changed(groupId)
        return {}
      },
      async leave({ groupId }, ctx) {
        const r = await groups.remove(groupId, caller(ctx).userId)
        if (r === Refusal.missing) throw ctx.error('NOT_FOUND', missing(groupId))
        if (r === Refusal.notMember) throw ctx.error('NOT_FOUND', `you are not a member of group '${groupId}'`)
        changed(groupId)
        return {}
      },
      async kick({ groupId, username }, ctx) {
        const me = caller(ctx)
        const g = await groups.get(groupId)
        if (g === undefined) throw ctx.error('NOT_FOUND', missing(groupId))
        if (g.ownerId !== me.userId) throw ctx.error('PERMISSION_DENIED', 'only the owner of the group may kick')
        const target = await ctx.client(User).lookup({ username })
        if (target.userId === me.userId) throw ctx.error('INVALID_ARGUMENT', 'the owner leaves with group.leave, not kick')
        const r = await groups.remove(groupId, target.userId, me.userId)
        if (r === Refusal.missing) throw ctx.error('NOT_FOUND', missing(groupId))
        if (r === Refusal.notOwner) throw ctx.error('PERMISSION_DENIED', 'only the owner of the group may kick')
        if (r === Refusal.notMember) throw ctx.error('NOT_FOUND', `'${username}' is not a member of group '${groupId}'`)
        changed(groupId)
        return {}
      },
      async members({ groupId }, ctx) {
        const g = await groups.get(groupId)
        if (g === undefined) throw ctx.error('NOT_FOUND', missing(groupId))
        if (!g.members.includes(caller(ctx).userId)) throw ctx.error('PERMISSION_DENIED', `you are not a member of group '${groupId}'`)
        return ctx.client(User).profiles({ userIds: [...g.members] })
      },
      async mine(_, ctx) {
        const mine = await groups.of(caller(ctx).userId)
        if (mine.length === 0) return []
        const unread = await unreadCounts(
          ctx,
          mine.map((g) => `#${g.groupId}`),
        )
        return mine.map((g) => ({ groupId: g.groupId, name: g.name, ...unread(`#${g.groupId}`) }))
      },
      async memberIds({ groupId }, ctx) {
        const g = await groups.get(groupId)
        if (g === undefined) throw ctx.error('NOT_FOUND', missing(groupId))
        return { members: [...g.members] }
      },
      async groupIds(_, ctx) {
        return { groupIds: (await groups.of(caller(ctx).userId)).map((g) => g.groupId) }
      },
      async stats(_, ctx) {
        admin(ctx)
        return { groups: await groups.count() }
      },
    },
    o,
  )
}
