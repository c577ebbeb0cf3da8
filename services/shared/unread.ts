import type { CallContext } from 'switchboard'
import { MessageService } from '../message/contract.ts'
import type { AuthState } from './auth.ts'

/**
 * The caller's unread counts in `conversations` (`@username`, `#groupId`), asked of the message module, as a lookup
 * that gives `{ unread }` or nothing: a list of friends or groups still answers while the message module cannot.
 */
export async function unreadCounts(ctx: CallContext<AuthState>, conversations: readonly string[]): Promise<(c: string) => { unread?: number }> {
  if (conversations.length === 0) return () => ({})
  try {
    const counts = await ctx.client(MessageService).unread({ conversations: [...conversations] }, { timeout: 2_000 })
    const byConversation = new Map(counts.map((c) => [c.conversation, c.unread]))
    return (c) => {
      const unread = byConversation.get(c)
      return unread === undefined ? {} : { unread }
    }
  } catch {
    return () => ({})
  }
}
