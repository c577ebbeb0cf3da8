import type { Static } from 'typebox'
import type { FeedPositions } from '../shared/position.ts'
import type { Message } from '../shared/schemas.ts'

/** The message stream: every entry of every conversation, once (its format below is what gateways read). */
export const MESSAGES_STREAM = 'SB_MESSAGES'

/** A message as clients see it (services/shared/schemas.ts). */
export type ChatMessage = Static<typeof Message>

/**
 * One entry of the message stream (SB_MESSAGES), stored once, on its conversation's subject: a message (`op`
 * absent), or an edit or a delete of the message `messageId`. `members` are the recipients of a group entry when it
 * was stored (the sender included): the live push and the feed read both go by them, so they agree on who sees it.
 */
export interface StoredEntry {
  readonly messageId: string
  readonly kind: 'direct' | 'group'
  readonly fromId: string
  readonly from: string
  readonly toId?: string
  readonly to?: string
  readonly groupId?: string
  readonly members?: readonly string[]
  readonly text?: string
  /** Epoch ms the message was sent (an edit keeps the message's; `editedAt` is its own). */
  readonly sentAt: number
  readonly op?: 'edit' | 'delete'
  readonly editedAt?: number
}

/** The current state of an edited or deleted message. */
export interface EditState {
  readonly text?: string
  readonly deleted?: true
  readonly editedAt: number
}

/** The users an entry is for: both sides of a direct message, the members of a group one. */
export function recipientsOf(e: StoredEntry): readonly string[] {
  if (e.kind === 'direct') return e.toId === undefined || e.toId === e.fromId ? [e.fromId] : [e.fromId, e.toId]
  return e.members ?? []
}

/** Whether `userId` sees entry `e`. */
export function isFor(e: StoredEntry, userId: string): boolean {
  return e.kind === 'direct' ? e.fromId === userId || e.toId === userId : (e.members?.includes(userId) ?? false)
}

/** Entry `e` at sequence `seq` as user `userId` sees it: with its position, without the member list, edits applied. */
export function messageFor(e: StoredEntry, seq: number, userId: string, positions: FeedPositions, edit?: EditState): ChatMessage {
  const m: Record<string, unknown> = { messageId: e.messageId, kind: e.kind, fromId: e.fromId, from: e.from, sentAt: e.sentAt, pos: positions.of(userId, seq) }
  if (e.to !== undefined) m.to = e.to
  if (e.toId !== undefined) m.toId = e.toId
  if (e.groupId !== undefined) m.groupId = e.groupId
  if (e.op !== undefined) {
    m.op = e.op
    if (e.editedAt !== undefined) m.editedAt = e.editedAt
    if (e.op === 'edit' && e.text !== undefined) m.text = e.text
    return m as ChatMessage
  }
  if (edit?.deleted === true) {
    m.deleted = true
    m.editedAt = edit.editedAt
  } else if (edit?.text !== undefined) {
    m.text = edit.text
    m.editedAt = edit.editedAt
  } else if (e.text !== undefined) m.text = e.text
  return m as ChatMessage
}
