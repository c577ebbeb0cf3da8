import { createHash } from 'node:crypto'
import type { NatsConnection } from '@nats-io/nats-core'
import { encodeBody, type Worker } from 'switchboard'
import { admin, caller } from '../shared/auth.ts'
import { serveChatModule } from '../shared/serve-module.ts'
import { resolveChatOptions, type ChatOptions } from '../shared/options.ts'
import { ChatSubject, sessionsOf } from '../shared/presence.ts'
import { Group } from '../group/contract.ts'
import { User } from '../user/contract.ts'
import { MessageService } from './contract.ts'
import { Conversation, MessageStore, type ChatMessage } from './store.ts'

const DEFAULT_LIMIT = 50

/** The id of a message: derived from the sender and the call's Rpc-Id, so a retried send makes the same message. */
export function messageIdOf(fromId: string, rpcId: string): string {
  return createHash('sha256').update(`${fromId}\n${rpcId}`).digest('base64url').slice(0, 22)
}

/**
 * Starts a worker of the message module. A message is stored (JetStream publish ack) before the call returns,
 * then offered to the recipient's gateways on `chat.deliver.<userId>`; when nobody takes it, it is kept in the
 * recipient's inbox for `offline`.
 */
export async function startMessageWorker(nc: NatsConnection, options: Partial<ChatOptions> = {}): Promise<Worker<typeof MessageService>> {
  const o = resolveChatOptions(options)
  const store = await MessageStore.open(nc, o.replicas)

  /** Offers `msg` to the gateways of `userId`; keeps it in the inbox when none took it. Resolves true when delivered. */
  const deliver = async (userId: string, msg: ChatMessage): Promise<boolean> => {
    try {
      const reply = await nc.request(ChatSubject.deliver(userId), encodeBody(msg), { timeout: o.deliverTimeoutMs })
      if (sessionsOf(reply.data) > 0) return true
    } catch {
      // no responders or no reply in time: the user is offline
    }
    await store.keep(userId, msg)
    return false
  }

  return serveChatModule(
    nc,
    MessageService,
    {
      async send({ to, text }, ctx) {
        const me = caller(ctx)
        const target = await ctx.client(User).lookup({ username: to })
        const draft: ChatMessage = {
          messageId: messageIdOf(me.userId, ctx.id),
          kind: 'direct',
          fromId: me.userId,
          from: me.username,
          to: target.username,
          toId: target.userId,
          text,
          sentAt: Date.now(),
        }
        const msg = await store.append(Conversation.direct(me.userId, target.userId), draft)
        return { messageId: msg.messageId, delivered: await deliver(target.userId, msg) }
      },
      async sendGroup({ groupId, text }, ctx) {
        const me = caller(ctx)
        const members = await ctx.client(Group).members({ groupId })
        const draft: ChatMessage = {
          messageId: messageIdOf(me.userId, ctx.id),
          kind: 'group',
          fromId: me.userId,
          from: me.username,
          groupId,
          text,
          sentAt: Date.now(),
        }
        const msg = await store.append(Conversation.group(groupId), draft)
        const reached = await Promise.all(members.filter((m) => m.userId !== me.userId).map((m) => deliver(m.userId, msg)))
        return { messageId: msg.messageId, delivered: reached.filter(Boolean).length }
      },
      async offline(_, ctx) {
        return store.take(caller(ctx).userId)
      },
      async history(input, ctx) {
        const me = caller(ctx)
        let subject: string
        if ('groupId' in input) {
          await ctx.client(Group).members({ groupId: input.groupId })
          subject = Conversation.group(input.groupId)
        } else {
          const other = await ctx.client(User).lookup({ username: input.with })
          subject = Conversation.direct(me.userId, other.userId)
        }
        return store.history(subject, input.limit ?? DEFAULT_LIMIT, input.before)
      },
      async stats(_, ctx) {
        admin(ctx)
        return { messages: await store.count() }
      },
    },
    o,
  )
}
