import type { NatsConnection } from '@nats-io/nats-core'
import type { KV } from '@nats-io/kv'
import type { Worker } from 'switchboard'
import { caller } from '../shared/auth.ts'
import { unreadCounts } from '../shared/unread.ts'
import { serveChatModule } from '../shared/serve-module.ts'
import { resolveChatOptions, type ChatOptions } from '../shared/options.ts'
import { openBucket, readValue, updateValue } from '../shared/state.ts'
import { User } from '../user/contract.ts'
import { Friend } from './contract.ts'

export const FRIENDS_BUCKET = 'sb_friends'

const keyOf = (userId: string) => `f.${userId}`

/** Adds (or removes) `other` in the friend list of `userId`; resolves with whether the list changed. */
function edit(kv: KV, userId: string, other: string, add: boolean): Promise<boolean> {
  return updateValue<string[], boolean>(kv, keyOf(userId), (cur = []) => {
    if (cur.includes(other) === add) return { result: false }
    return { value: add ? [...cur, other] : cur.filter((id) => id !== other), result: true }
  })
}

/** Starts a worker of the friend module: friend lists (both ways) in a KV bucket; names resolved by the user module. */
export async function startFriendWorker(nc: NatsConnection, options: Partial<ChatOptions> = {}): Promise<Worker<typeof Friend>> {
  const o = resolveChatOptions(options)
  const kv = await openBucket(nc, FRIENDS_BUCKET, o.replicas)
  return serveChatModule(
    nc,
    Friend,
    {
      async add({ username }, ctx) {
        const me = caller(ctx)
        const other = await ctx.client(User).lookup({ username })
        if (other.userId === me.userId) throw ctx.error('INVALID_ARGUMENT', 'you cannot befriend yourself')
        const added = await edit(kv, me.userId, other.userId, true)
        await edit(kv, other.userId, me.userId, true)
        if (!added) throw ctx.error('ALREADY_EXISTS', `'${username}' is already your friend`)
        return {}
      },
      async remove({ username }, ctx) {
        const me = caller(ctx)
        const other = await ctx.client(User).lookup({ username })
        const removed = await edit(kv, me.userId, other.userId, false)
        await edit(kv, other.userId, me.userId, false)
        if (!removed) throw ctx.error('NOT_FOUND', `'${username}' is not your friend`)
        return {}
      },
      async list(_, ctx) {
        const ids = (await readValue<string[]>(kv, keyOf(caller(ctx).userId)))?.value ?? []
        if (ids.length === 0) return []
        const profiles = await ctx.client(User).profiles({ userIds: ids })
        const unread = await unreadCounts(
          ctx,
          profiles.map((p) => `@${p.username}`),
        )
        return profiles.map((p) => ({ ...p, ...unread(`@${p.username}`) }))
      },
    },
    o,
  )
}
