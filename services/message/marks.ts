import type { NatsConnection } from '@nats-io/nats-core'
import type { KV } from '@nats-io/kv'
import { openBucket, readValue, updateValue, writeValue } from '../shared/state.ts'
import type { EditState } from './entry.ts'

export const READS_BUCKET = 'sb_reads'
export const CURSORS_BUCKET = 'sb_cursors'
export const EDITS_BUCKET = 'sb_edits'
export const AUTHORED_BUCKET = 'sb_authored'

/** What the author's index keeps of a message, for edits and deletes within the window. */
export interface Authored {
  readonly subject: string
  readonly kind: 'direct' | 'group'
  readonly sentAt: number
  readonly toId?: string
  readonly to?: string
  readonly groupId?: string
}

/**
 * The message module's small state beside the stream, each in a KV bucket: read positions per user and
 * conversation (`sb_reads`), the offline cursor per user (`sb_cursors`), the current state of edited messages per
 * conversation (`sb_edits`), and each author's recent messages (`sb_authored`, expiring with the edit window).
 * Positions only move forward: every update is a compare-and-set that keeps the greater one.
 */
export class Marks {
  private constructor(
    readonly reads: KV,
    readonly cursors: KV,
    readonly edits: KV,
    readonly authored: KV,
  ) {}

  static async open(nc: NatsConnection, replicas: number, editWindowMs: number): Promise<Marks> {
    const [reads, cursors, edits, authored] = await Promise.all([
      openBucket(nc, READS_BUCKET, replicas),
      openBucket(nc, CURSORS_BUCKET, replicas),
      openBucket(nc, EDITS_BUCKET, replicas),
      openBucket(nc, AUTHORED_BUCKET, replicas, { ttl: editWindowMs + 60_000 }),
    ])
    return new Marks(reads, cursors, edits, authored)
  }

  /** The read positions of `userId`, by conversation subject. */
  async readsOf(userId: string): Promise<Readonly<Record<string, number>>> {
    return (await readValue<Record<string, number>>(this.reads, userId))?.value ?? {}
  }

  /** Moves the read position of `userId` in `subject` to `seq` unless it is past it already; resolves with where it is. */
  markRead(userId: string, subject: string, seq: number): Promise<number> {
    return updateValue<Record<string, number>, number>(this.reads, userId, (cur = {}) => {
      const at = cur[subject] ?? 0
      return seq <= at ? { result: at } : { value: { ...cur, [subject]: seq }, result: seq }
    })
  }

  /** The offline cursor of `userId`: their feed up to it was sent to a session. */
  async cursorOf(userId: string): Promise<number> {
    return (await readValue<number>(this.cursors, userId))?.value ?? 0
  }

  /**
   * Moves the offline cursor of `userId` to `seq` unless it is past it already, and only when it is at or past
   * `from`: what lies between the cursor and `from` was not sent, so it stays to be taken.
   */
  advanceCursor(userId: string, seq: number, from = 0): Promise<void> {
    return updateValue<number>(this.cursors, userId, (cur = 0) => (seq <= cur || cur < from ? { result: undefined } : { value: seq, result: undefined }))
  }

  /** The edited and deleted messages of a conversation, by messageId. */
  async editsOf(subject: string): Promise<Readonly<Record<string, EditState>>> {
    return (await readValue<Record<string, EditState>>(this.edits, subject))?.value ?? {}
  }

  /** Records the new state of a message (a delete is final: a later edit does not undo it). */
  recordEdit(subject: string, messageId: string, state: EditState): Promise<void> {
    return updateValue<Record<string, EditState>>(this.edits, subject, (cur = {}) => {
      if (cur[messageId]?.deleted === true) return { result: undefined }
      return { value: { ...cur, [messageId]: state }, result: undefined }
    })
  }

  /** Notes a message `userId` wrote, for later edits and deletes. */
  async noteAuthored(userId: string, messageId: string, a: Authored): Promise<void> {
    await writeValue(this.authored, `${userId}.${messageId}`, a)
  }

  /** A message `userId` wrote within the edit window, or undefined. */
  async authoredBy(userId: string, messageId: string): Promise<Authored | undefined> {
    return (await readValue<Authored>(this.authored, `${userId}.${messageId}`))?.value
  }
}
