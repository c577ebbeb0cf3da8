import { messageFor, type ChatMessage, type StoredEntry } from '../message/entry.ts'
import type { FeedPositions } from '../shared/position.ts'

/** The event a feed entry is pushed as: a new message, or an edit or delete of one. */
export function eventOf(m: { readonly op?: string }): 'message' | 'edited' | 'deleted' {
  return m.op === 'edit' ? 'edited' : m.op === 'delete' ? 'deleted' : 'message'
}

/**
 * The JSON text of the event of the feed entry at `seq`, for each user it goes to: the message is written once and
 * each user's position (`message.pos`) put in front of it.
 */
export function entryFrames(entry: StoredEntry, seq: number, positions: FeedPositions): (userId: string) => string {
  const { pos: _pos, ...rest } = messageFor(entry, seq, '', positions)
  const head = `{"event":"${eventOf(entry)}","message":{"pos":"`
  const tail = `",${JSON.stringify(rest).slice(1)}}`
  return (userId) => head + positions.of(userId, seq) + tail
}

/** The JSON text of the event of a message read from the feed (it carries its position already). */
export function messageFrame(m: ChatMessage): string {
  return JSON.stringify({ event: eventOf(m), message: m })
}
