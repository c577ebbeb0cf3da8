import type { NatsConnection } from '@nats-io/nats-core'
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream'
import { decodeBody, encodeBody } from 'switchboard'
import { openStream } from '../shared/state.ts'
import { untilStoreReady } from '../shared/store-errors.ts'
import { isFor, MESSAGES_STREAM, type StoredEntry } from './entry.ts'

export { MESSAGES_STREAM } from './entry.ts'

/** The stream subject of a conversation: `msg.dm.<lo>.<hi>` between two users, `msg.group.<groupId>` of a group. */
export const Conversation = {
  direct: (a: string, b: string) => (a < b ? `msg.dm.${a}.${b}` : `msg.dm.${b}.${a}`),
  group: (groupId: string) => `msg.group.${groupId}`,
} as const

/** The subjects a user's feed is read from: their direct conversations (two filters) and each of their groups. */
export function feedFilters(userId: string, groupIds: readonly string[]): string[] {
  return [`msg.dm.${userId}.*`, `msg.dm.*.${userId}`, ...groupIds.map(Conversation.group)]
}

/** One stored entry and its stream sequence (its position, once bound to a user). */
export interface Sequenced {
  readonly seq: number
  readonly entry: StoredEntry
}

/** A page of one user's feed. */
export interface FeedPage {
  readonly items: readonly Sequenced[]
  /** The sequence to resume after: the last item's, or further when nothing for the user lies between. */
  readonly seq: number
  readonly more: boolean
}

/** Why a feed cannot be read from a position: what it needs has passed the stream's retention. */
export class OutOfRangeError extends Error {
  override readonly name = 'OutOfRangeError'
  constructor(
    readonly after: number,
    readonly first: number,
  ) {
    super(`the feed keeps positions from ${first} on; ${after} is older: reload from history`)
  }
}

/** Defaults of the message stream. */
export const DEFAULT_STREAM = { maxAgeMs: 30 * 24 * 3600_000, duplicateWindowMs: 120_000 } as const

/**
 * The message stream: every entry once, on its conversation's subject, deduplicated by its id (`msgID`). A user's
 * feed is read from it through one filtered consumer per feed subject, merged by sequence, so the feed costs no write
 * of its own (docs/delivery.md). Writes go through `js`/`jsm`; reads through `readJs`/`readJsm`, on the connection
 * given as `reads` (one that may not answer requests).
 */
export class MessageStore {
  private constructor(
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    readonly readJs: JetStreamClient,
    readonly readJsm: JetStreamManager,
  ) {}

  static async open(nc: NatsConnection, replicas: number, maxAgeMs: number = DEFAULT_STREAM.maxAgeMs, reads: NatsConnection = nc): Promise<MessageStore> {
    const config = {
      name: MESSAGES_STREAM,
      subjects: ['msg.>'],
      duplicate_window: Math.min(DEFAULT_STREAM.duplicateWindowMs, maxAgeMs) * 1e6,
      max_age: maxAgeMs * 1e6,
    }
    const js = await openStream(nc, config, replicas)
    const jsm = await untilStoreReady(() => jetstreamManager(nc))
    if (reads === nc) return new MessageStore(js, jsm, js, jsm)
    return new MessageStore(js, jsm, jetstream(reads), await untilStoreReady(() => jetstreamManager(reads)))
  }

  /** Stores `entry` durably (publish ack), once per `id`; on a repeat returns what was stored the first time. */
  async append(subject: string, entry: StoredEntry, id: string): Promise<Sequenced> {
    const ack = await this.js.publish(subject, encodeBody(entry), { msgID: id })
    if (!ack.duplicate) return { seq: ack.seq, entry }
    const stored = await this.jsm.streams.getMessage(MESSAGES_STREAM, { seq: ack.seq })
    return { seq: ack.seq, entry: stored === null ? entry : (decodeBody(stored.data) as StoredEntry) }
  }

  /** The first and last sequence the stream holds now. */
  async bounds(): Promise<{ first: number; last: number }> {
    const { state } = await this.readJsm.streams.info(MESSAGES_STREAM)
    return { first: state.first_seq, last: state.last_seq }
  }

  /**
   * The entries for `userId` after sequence `after` on `filters`, oldest first, at most `limit`. Each filter is read
   * by a consumer of its own; a filter that has more than `limit` bounds the page at its last entry read, so no entry
   * of it is skipped. OutOfRangeError when entries after `after` have passed the retention.
   */
  async feed(userId: string, filters: readonly string[], after: number, limit: number): Promise<FeedPage> {
    const { first, last } = await this.bounds()
    if (after > 0 && after + 1 < first) throw new OutOfRangeError(after, first)
    const reads = await Promise.all(filters.map((f) => this.#read(f, after, limit + 1)))
    // entries stored while the filters were read may be in one read and not yet in another: the page ends at the
    // stream's end when it began, and at the last entry read of a filter that has more
    let bound = last
    for (const r of reads) if (r.truncated) bound = Math.min(bound, r.items.at(-1)?.seq ?? after)
    const seen = new Set<number>()
    const merged: Sequenced[] = []
    for (const r of reads) {
      for (const it of r.items) {
        if (it.seq <= bound && !seen.has(it.seq)) {
          seen.add(it.seq)
          merged.push(it)
        }
      }
    }
    merged.sort((a, b) => a.seq - b.seq)
    const items: Sequenced[] = []
    let seq = after
    let rest = false
    for (let i = 0; i < merged.length; i++) {
      const it = merged[i]!
      if (isFor(it.entry, userId)) items.push(it)
      seq = it.seq
      if (items.length === limit) {
        rest = i < merged.length - 1
        break
      }
    }
    const bounded = reads.some((r) => r.truncated)
    // nothing more on any filter up to `bound`: resume from there (the stream's end, when no filter has more)
    if (!rest) seq = bound
    return { items, seq: Math.max(seq, after), more: rest || bounded }
  }

  /** Up to `max` entries of `filter` after `after`, through a short-lived consumer; truncated when more remain. */
  async #read(filter: string, after: number, max: number): Promise<{ items: Sequenced[]; truncated: boolean }> {
    const info = await this.readJsm.consumers.add(MESSAGES_STREAM, {
      filter_subject: filter,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: after + 1,
      ack_policy: AckPolicy.None,
      mem_storage: true,
      inactive_threshold: 10_000 * 1e6,
    })
    const items: Sequenced[] = []
    try {
      const want = Math.min(info.num_pending, max)
      if (want > 0) {
        const consumer = await this.readJs.consumers.get(MESSAGES_STREAM, info.name)
        for await (const m of await consumer.fetch({ max_messages: want, expires: 5_000 })) {
          items.push({ seq: m.seq, entry: decodeBody(m.data) as StoredEntry })
          if (items.length >= want) break
        }
      }
    } finally {
      this.readJsm.consumers.delete(MESSAGES_STREAM, info.name).catch(() => undefined)
    }
    // fewer read than pending (more than `max`, or the fetch ended early): what lies after the last one read is unknown
    return { items, truncated: items.length < info.num_pending }
  }

  /** Entries on one subject after `after`: how many, and up to `max` of them (for unread counts). */
  async pending(subject: string, after: number, max: number): Promise<{ count: number; items: Sequenced[] }> {
    const last = await this.readJsm.streams.getMessage(MESSAGES_STREAM, { last_by_subj: subject })
    if (last === null || last.seq <= after) return { count: 0, items: [] }
    const r = await this.#read(subject, after, max)
    return { count: r.truncated ? max : r.items.length, items: r.items }
  }

  /**
   * The `limit` newest messages of a conversation sent before `before` (epoch ms), newest first, plus any more that
   * share the oldest one's `sentAt` (edits and deletes are not messages: the caller applies them). Newest means by
   * `sentAt`, then by stream order: the order `before` filters by, and a page never splits a millisecond, so the
   * oldest `sentAt` of a page, passed as the next `before`, pages back without a gap or a repeat.
   */
  async history(subject: string, limit: number, before = Number.POSITIVE_INFINITY): Promise<Sequenced[]> {
    const last = await this.readJsm.streams.getMessage(MESSAGES_STREAM, { last_by_subj: subject })
    if (last === null) return []
    const consumer = await this.readJs.consumers.get(MESSAGES_STREAM, { filter_subjects: subject })
    const iter = await consumer.consume({ max_messages: 256 })
    const window = new NewestWindow(limit)
    try {
      for await (const m of iter) {
        const entry = decodeBody(m.data) as StoredEntry
        if (entry.op === undefined && entry.sentAt < before) window.offer({ seq: m.seq, entry })
        if (m.seq >= last.seq) break
      }
    } finally {
      await iter.close()?.catch(() => undefined)
    }
    return window.newestFirst()
  }

  /** Entries stored in all. */
  async count(): Promise<number> {
    return (await this.readJsm.streams.info(MESSAGES_STREAM)).state.messages
  }
}

/**
 * The `limit` greatest entries offered, by `sentAt` then stream sequence, plus those tied with the `limit`-th on
 * `sentAt` (so a page never splits a millisecond); kept sorted oldest first.
 */
export class NewestWindow {
  readonly #kept: Sequenced[] = []

  constructor(readonly limit: number) {}

  offer(item: Sequenced): void {
    const kept = this.#kept
    const at = item.entry.sentAt
    if (kept.length >= this.limit && at < kept[kept.length - this.limit]!.entry.sentAt) return
    const after = (k: Sequenced) => k.entry.sentAt < at || (k.entry.sentAt === at && k.seq < item.seq)
    let lo = 0
    let hi = kept.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (after(kept[mid]!)) lo = mid + 1
      else hi = mid
    }
    kept.splice(lo, 0, item)
    while (kept.length > this.limit && kept[0]!.entry.sentAt < kept[kept.length - this.limit]!.entry.sentAt) kept.shift()
  }

  newestFirst(): Sequenced[] {
    return [...this.#kept].reverse()
  }
}
