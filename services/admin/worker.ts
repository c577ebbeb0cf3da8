import type { NatsConnection } from '@nats-io/nats-core'
import { nuid } from '@nats-io/nats-core'
import { decodeBody, encodeBody, type Worker } from 'switchboard'
import { admin } from '../shared/auth.ts'
import { serveChatModule } from '../shared/serve-module.ts'
import { resolveChatOptions, type ChatOptions } from '../shared/options.ts'
import { ChatSubject, sessionsOf } from '../shared/presence.ts'
import { Group } from '../group/contract.ts'
import { MessageService } from '../message/contract.ts'
import type { ChatMessage } from '../message/entry.ts'
import { User } from '../user/contract.ts'
import { Admin } from './contract.ts'

/** How long to gather gateway replies: at most `maxWait` ms, or until none came for `stall` ms. */
export const GATHER = { maxWait: 1_000, stall: 200 } as const

/** Collects every gateway's reply to a request on `subject` (none when no gateway runs). */
async function gather(nc: NatsConnection, subject: string, body?: Uint8Array): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  try {
    for await (const m of await nc.requestMany(subject, body, { strategy: 'stall', maxWait: GATHER.maxWait, stall: GATHER.stall })) {
      if (m.data.length === 0 && m.headers?.code === 503) break
      out.push(m.data)
    }
  } catch {
    // no responders: no gateway runs
  }
  return out
}

/** Starts a worker of the admin module: broadcasts to every gateway and system numbers. Every method needs role admin. */
export async function startAdminWorker(nc: NatsConnection, options: Partial<ChatOptions> = {}): Promise<Worker<typeof Admin>> {
  const o = resolveChatOptions(options)
  return serveChatModule(
    nc,
    Admin,
    {
      async broadcast({ text }, ctx) {
        const me = admin(ctx)
        const msg: ChatMessage = { messageId: nuid.next(), kind: 'broadcast', fromId: me.userId, from: me.username, text, sentAt: Date.now() }
        const replies = await gather(nc, ChatSubject.broadcast, encodeBody(msg))
        return { delivered: replies.reduce((n, r) => n + sessionsOf(r), 0) }
      },
      async stats(_, ctx) {
        admin(ctx)
        const [{ users }, { groups }, { messages }, online] = await Promise.all([
          ctx.client(User).stats({}),
          ctx.client(Group).stats({}),
          ctx.client(MessageService).stats({}),
          gather(nc, ChatSubject.online),
        ])
        const ids = new Set<string>()
        for (const r of online) {
          try {
            const v = decodeBody(r) as { userIds?: unknown }
            if (Array.isArray(v?.userIds)) for (const id of v.userIds) if (typeof id === 'string') ids.add(id)
          } catch {
            // a malformed reply counts nobody
          }
        }
        return { users, groups, messages, online: ids.size }
      },
    },
    o,
  )
}
