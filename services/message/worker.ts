import { createHash } from 'node:crypto'
import type { NatsConnection } from '@nats-io/nats-core'
import { encodeBody, type CallContext, type Worker } from 'switchboard'
import { admin, caller, type AuthState, type Identity } from '../shared/auth.ts'
import { resolveChatOptions, type ChatOptions } from '../shared/options.ts'
import { FeedPositions } from '../shared/position.ts'
import { ChatSubject, PresenceCache } from '../shared/presence.ts'
import { serveChatModule } from '../shared/serve-module.ts'
import { Group } from '../group/contract.ts'
import { MessageService } from './contract.ts'
import { Directory } from './directory.ts'
import { messageFor, recipientsOf, type ChatMessage, type StoredEntry } from './entry.ts'
import { Marks } from './marks.ts'
import { Conversation, feedFilters, MessageStore, OutOfRangeError, type Sequenced } from './store.ts'

const DEFAULT_LIMIT = 50
const SYNC_LIMIT = 100
const OFFLINE_LIMIT = 500
const UNREAD_CAP = 100

/** The id of a message: derived from the sender and the call's Rpc-Id, so a retried send makes the same message. */
export function messageIdOf(fromId: string, rpcId: string): string {
  return createHash('sha256').update(`${fromId}\n${rpcId}`).digest('base64url').slice(0, 22)
}

/** The stream subject an entry is stored on. */
export function subjectOf(e: StoredEntry): string {
  return e.kind === 'group' ? Conversation.group(e.groupId!) : Conversation.direct(e.fromId, e.toId!)
}

/**
 * Starts a worker of the message module. Every message is stored once in the SB_MESSAGES stream (JetStream publish
 * ack) before the call returns; its stream sequence is its position in the feed of everyone it is for (both sides of
 * a direct message, the members of a group then). Gateways tail the stream and push each entry to its recipients'
 * sessions in order; a client that was away reads its feed after the last position it saw (`sync`). Read positions,
 * the offline cursor and edits live in KV buckets beside the stream (docs/delivery.md).
 *
 * The stream is read (feeds, history, unread counts) on `reads`: a connection as `message-reads`, which may not
 * answer requests (services/shared/permissions.ts says why). Against a server without permissions it may be `nc`.
 */
export async function startMessageWorker(
  nc: NatsConnection,
  options: Partial<ChatOptions> = {},
  reads: NatsConnection = nc,
): Promise<Worker<typeof MessageService>> {
  const o = resolveChatOptions(options)
  const [store, marks] = await Promise.all([MessageStore.open(nc, o.replicas, o.retentionMs, reads), Marks.open(nc, o.replicas, o.editWindowMs)])
  const positions = new FeedPositions(o.feedKey)
  const directory = new Directory(nc)
  const presence = new PresenceCache(nc)
  const lastTyping = new Map<string, number>()
  directory.start()
  presence.start()

  const view = (me: Identity, it: Sequenced, edits?: Readonly<Record<string, { text?: string; deleted?: true; editedAt: number }>>): ChatMessage =>
    messageFor(it.entry, it.seq, me.userId, positions, edits?.[it.entry.messageId])

  /** `items` as `me` sees them, with the current state of edited messages (one read per conversation). */
  const withEdits = async (me: Identity, items: readonly Sequenced[]): Promise<ChatMessage[]> => {
    const subjects = [...new Set(items.filter((it) => it.entry.op === undefined).map((it) => subjectOf(it.entry)))]
    const edits = new Map(await Promise.all(subjects.map(async (s) => [s, await marks.editsOf(s)] as const)))
    return items.map((it) => view(me, it, edits.get(subjectOf(it.entry))))
  }

  /** The stream subject of a conversation the caller names (`@username`, `#groupId`), checking group membership. */
  const conversationOf = async (
    ctx: CallContext<AuthState>,
    me: Identity,
    conversation: string,
  ): Promise<{ subject: string; recipients: readonly string[] }> => {
    if (conversation.startsWith('@')) {
      const other = await directory.user(ctx, conversation.slice(1))
      return { subject: Conversation.direct(me.userId, other.userId), recipients: [other.userId] }
    }
    const groupId = conversation.slice(1)
    const members = await directory.members(ctx, groupId)
    if (!members.includes(me.userId)) throw ctx.error('PERMISSION_DENIED', `you are not a member of group '${groupId}'`)
    return { subject: Conversation.group(groupId), recipients: members }
  }

  /** My feed after sequence `after`: the entries of my direct conversations and of my groups. */
  const feed = async (ctx: CallContext<AuthState>, me: Identity, after: number, limit: number) => {
    const { groupIds } = await ctx.client(Group).groupIds({})
    try {
      return await store.feed(me.userId, feedFilters(me.userId, groupIds), after, limit)
    } catch (err) {
      if (err instanceof OutOfRangeError) throw ctx.error('OUT_OF_RANGE', err.message)
      throw err
    }
  }

  /** Stores a new message for its recipients and notes it for later edits; resolves with what was stored. */
  const post = async (subject: string, entry: StoredEntry): Promise<Sequenced> => {
    const [stored] = await Promise.all([
      store.append(subject, entry, entry.messageId),
      marks.noteAuthored(entry.fromId, entry.messageId, {
        subject,
        kind: entry.kind,
        sentAt: entry.sentAt,
        ...(entry.toId !== undefined && { toId: entry.toId, to: entry.to }),
        ...(entry.groupId !== undefined && { groupId: entry.groupId }),
      }),
    ])
    return stored
  }

  /** An edit or delete of one of my messages, within the edit window. */
  const change = async (ctx: CallContext<AuthState>, messageId: string, op: 'edit' | 'delete', text?: string) => {
    const me = caller(ctx)
    const a = await marks.authoredBy(me.userId, messageId)
    if (a === undefined) throw ctx.error('NOT_FOUND', `no message '${messageId}' of yours within the edit window`)
    const now = Date.now()
    if (now - a.sentAt > o.editWindowMs)
      throw ctx.error('FAILED_PRECONDITION', `messages can be changed for ${Math.round(o.editWindowMs / 60_000)} min after they are sent`)
    const members = a.kind === 'group' ? await directory.members(ctx, a.groupId!) : undefined
    const entry: StoredEntry = {
      messageId,
      kind: a.kind,
      fromId: me.userId,
      from: me.username,
      ...(a.toId !== undefined && { toId: a.toId, to: a.to }),
      ...(a.groupId !== undefined && { groupId: a.groupId, members }),
      ...(op === 'edit' && { text }),
      sentAt: a.sentAt,
      op,
      editedAt: now,
    }
    await marks.recordEdit(a.subject, messageId, op === 'edit' ? { text: text!, editedAt: now } : { deleted: true, editedAt: now })
    const stored = await store.append(a.subject, entry, `${op}.${messageIdOf(me.userId, ctx.id)}`)
    return { messageId, pos: positions.of(me.userId, stored.seq) }
  }

  return serveChatModule(
    nc,
    MessageService,
    {
      async send({ to, text }, ctx) {
        const me = caller(ctx)
        const target = await directory.user(ctx, to)
        const entry: StoredEntry = {
          messageId: messageIdOf(me.userId, ctx.id),
          kind: 'direct',
          fromId: me.userId,
          from: me.username,
          to: target.username,
          toId: target.userId,
          text,
          sentAt: Date.now(),
        }
        const [stored, delivered] = await Promise.all([post(Conversation.direct(me.userId, target.userId), entry), presence.online(target.userId)])
        return { messageId: stored.entry.messageId, pos: positions.of(me.userId, stored.seq), delivered }
      },
      async sendGroup({ groupId, text }, ctx) {
        const me = caller(ctx)
        const members = await directory.members(ctx, groupId)
        if (!members.includes(me.userId)) throw ctx.error('PERMISSION_DENIED', `you are not a member of group '${groupId}'`)
        const entry: StoredEntry = {
          messageId: messageIdOf(me.userId, ctx.id),
          kind: 'group',
          fromId: me.userId,
          from: me.username,
          groupId,
          members,
          text,
          sentAt: Date.now(),
        }
        const others = members.filter((m) => m !== me.userId)
        const [stored, online] = await Promise.all([post(Conversation.group(groupId), entry), Promise.all(others.map((m) => presence.online(m)))])
        return { messageId: stored.entry.messageId, pos: positions.of(me.userId, stored.seq), delivered: online.filter(Boolean).length }
      },
      async sync({ after, limit }, ctx) {
        const me = caller(ctx)
        const page = await feed(ctx, me, after === undefined ? 0 : positions.seqOf(me.userId, after), limit ?? SYNC_LIMIT)
        return { messages: await withEdits(me, page.items), pos: positions.of(me.userId, page.seq), more: page.more }
      },
      async offline(_, ctx) {
        const me = caller(ctx)
        const page = await feed(ctx, me, await marks.cursorOf(me.userId), OFFLINE_LIMIT)
        const kept = page.items.filter((it) => it.entry.op === undefined && it.entry.fromId !== me.userId)
        const messages = await withEdits(me, kept)
        await marks.advanceCursor(me.userId, page.seq)
        return messages
      },
      async seen({ from, pos }, ctx) {
        const me = caller(ctx)
        await marks.advanceCursor(me.userId, positions.seqOf(me.userId, pos), from === undefined ? 0 : positions.seqOf(me.userId, from))
        return {}
      },
      async history(input, ctx) {
        const me = caller(ctx)
        const { subject } = await conversationOf(ctx, me, 'groupId' in input ? `#${input.groupId}` : `@${input.with}`)
        const [page, edits] = await Promise.all([store.history(subject, input.limit ?? DEFAULT_LIMIT, input.before), marks.editsOf(subject)])
        return page.map((it) => view(me, it, edits))
      },
      async read({ conversation, pos }, ctx) {
        const me = caller(ctx)
        const seq = positions.seqOf(me.userId, pos)
        const { subject } = await conversationOf(ctx, me, conversation)
        const at = positions.of(me.userId, await marks.markRead(me.userId, subject, seq))
        nc.publish(ChatSubject.user(me.userId), encodeBody({ event: 'read', conversation, pos: at }))
        return { pos: at }
      },
      async unread({ conversations }, ctx) {
        const me = caller(ctx)
        const reads = await marks.readsOf(me.userId)
        return Promise.all(
          conversations.map(async (conversation) => {
            const subject = conversation.startsWith('@')
              ? Conversation.direct(me.userId, (await directory.user(ctx, conversation.slice(1))).userId)
              : Conversation.group(conversation.slice(1))
            const { count, items } = await store.pending(subject, reads[subject] ?? 0, UNREAD_CAP + 1)
            const theirs = items.filter((it) => it.entry.op === undefined && it.entry.fromId !== me.userId && recipientsOf(it.entry).includes(me.userId)).length
            return { conversation, unread: count > UNREAD_CAP ? UNREAD_CAP : theirs }
          }),
        )
      },
      async typing(input, ctx) {
        const me = caller(ctx)
        const { subject, recipients } = await conversationOf(ctx, me, 'to' in input ? `@${input.to}` : `#${input.groupId}`)
        const key = `${me.userId} ${subject}`
        const now = Date.now()
        if (now - (lastTyping.get(key) ?? 0) < o.typingIntervalMs) return {}
        if (lastTyping.size >= 50_000) lastTyping.clear()
        lastTyping.set(key, now)
        const conversation = 'to' in input ? `@${me.username}` : `#${input.groupId}`
        const event = encodeBody({ event: 'typing', conversation, from: me.username, fromId: me.userId })
        for (const r of recipients) if (r !== me.userId) nc.publish(ChatSubject.user(r), event)
        return {}
      },
      edit: ({ messageId, text }, ctx) => change(ctx, messageId, 'edit', text),
      delete: ({ messageId }, ctx) => change(ctx, messageId, 'delete'),
      async stats(_, ctx) {
        admin(ctx)
        return { messages: await store.count() }
      },
    },
    o,
    { resources: [directory, presence] },
  )
}
