import type { NatsConnection } from '@nats-io/nats-core'
import { jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream'
import type { KV } from '@nats-io/kv'
import type { Static } from 'typebox'
import { decodeBody, encodeBody } from 'switchboard'
import type { Message } from '../shared/schemas.ts'
import { listKeys, openBucket, openStream } from '../shared/state.ts'
import { untilStoreReady } from '../shared/store-errors.ts'

export type ChatMessage = Static<typeof Message>

export const MESSAGES_STREAM = 'SB_MESSAGES'
export const INBOX_BUCKET = 'sb_inbox'

/** The stream subject of a conversation: `msg.dm.<lo>.<hi>` between two users, `msg.group.<groupId>` of a group. */
export const Conversation = {
  direct: (a: string, b: string) => (a < b ? `msg.dm.${a}.${b}` : `msg.dm.${b}.${a}`),
  group: (groupId: string) => `msg.group.${groupId}`,
} as const

/**
 * Stored messages: every message once in the SB_MESSAGES stream (deduplicated by its id), and, for each recipient
 * that was not reached in real time, an entry `<userId>.<messageId>` in the inbox bucket until they fetch it.
 */
export class MessageStore {
  private constructor(
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    readonly inbox: KV,
  ) {}

  static async open(nc: NatsConnection, replicas: number): Promise<MessageStore> {
    const js = await openStream(nc, { name: MESSAGES_STREAM, subjects: ['msg.>'], duplicate_window: 120_000_000_000 }, replicas)
    return new MessageStore(js, await untilStoreReady(() => jetstreamManager(nc)), await openBucket(nc, INBOX_BUCKET, replicas))
  }

  /** Stores `msg` durably (publish ack), once per messageId; on a repeat returns the message stored the first time. */
  async append(subject: string, msg: ChatMessage): Promise<ChatMessage> {
    const ack = await this.js.publish(subject, encodeBody(msg), { msgID: msg.messageId })
    if (!ack.duplicate) return msg
    const stored = await this.jsm.streams.getMessage(MESSAGES_STREAM, { seq: ack.seq })
    return stored === null ? msg : (decodeBody(stored.data) as ChatMessage)
  }

  /** Keeps `msg` for `userId` until they fetch their offline messages. */
  async keep(userId: string, msg: ChatMessage): Promise<void> {
    await this.inbox.put(`${userId}.${msg.messageId}`, encodeBody(msg))
  }

  /** Takes what was kept for `userId`, oldest first. Each entry is deleted with compare-and-set, so it is taken once. */
  async take(userId: string): Promise<ChatMessage[]> {
    const entries = await Promise.all((await listKeys(this.inbox, `${userId}.>`)).map((k) => this.inbox.get(k)))
    const live = entries.filter((e) => e !== null && e.operation === 'PUT' && e.value.length > 0).sort((a, b) => a!.revision - b!.revision)
    const taken = await Promise.all(
      live.map((e) =>
        this.inbox.delete(e!.key, { previousSeq: e!.revision }).then(
          () => decodeBody(e!.value) as ChatMessage,
          () => undefined,
        ),
      ),
    )
    return taken.filter((m): m is ChatMessage => m !== undefined)
  }

  /**
   * The `limit` newest messages of a conversation sent before `before` (epoch ms), newest first, plus any more that
   * share the oldest one's `sentAt`. Newest means by `sentAt`, then by stream order: the order `before` filters by,
   * and a page never splits a millisecond, so the oldest `sentAt` of a page, passed as the next `before`, pages back
   * without a gap or a repeat. Stream order alone would not do: two workers, or a send retried after a store
   * outage, store messages a little out of `sentAt` order.
   */
  async history(subject: string, limit: number, before = Infinity): Promise<ChatMessage[]> {
    const last = await this.jsm.streams.getMessage(MESSAGES_STREAM, { last_by_subj: subject })
    if (last === null) return []
    const consumer = await this.js.consumers.get(MESSAGES_STREAM, { filter_subjects: subject })
    const iter = await consumer.consume({ max_messages: 256 })
    const window = new NewestWindow(limit)
    try {
      for await (const m of iter) {
        const msg = decodeBody(m.data) as ChatMessage
        if (msg.sentAt < before) window.offer(msg, m.seq)
        if (m.seq >= last.seq) break
      }
    } finally {
      await iter.close()?.catch(() => undefined)
    }
    return window.newestFirst()
  }

  /** Messages stored in all. */
  async count(): Promise<number> {
    return (await this.jsm.streams.info(MESSAGES_STREAM)).state.messages
  }
}

/**
 * The `limit` greatest messages offered, by `sentAt` then stream sequence, plus those tied with the `limit`-th on
 * `sentAt` (so a page never splits a millisecond); kept sorted oldest first.
 */
export class NewestWindow {
  readonly #kept: { msg: ChatMessage; seq: number }[] = []

  constructor(readonly limit: number) {}

  offer(msg: ChatMessage, seq: number): void {
    const kept = this.#kept
    if (kept.length >= this.limit && msg.sentAt < kept[kept.length - this.limit]!.msg.sentAt) return
    const after = (k: { msg: ChatMessage; seq: number }) => k.msg.sentAt < msg.sentAt || (k.msg.sentAt === msg.sentAt && k.seq < seq)
    let lo = 0
    let hi = kept.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (after(kept[mid]!)) lo = mid + 1
      else hi = mid
    }
    kept.splice(lo, 0, { msg, seq })
    while (kept.length > this.limit && kept[0]!.msg.sentAt < kept[kept.length - this.limit]!.msg.sentAt) kept.shift()
  }

  newestFirst(): ChatMessage[] {
    return this.#kept.map((k) => k.msg).reverse()
  }
}
