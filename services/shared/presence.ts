import type { NatsConnection } from '@nats-io/nats-core'
import { decodeBody } from 'switchboard'

/** Subjects of real-time delivery, answered by gateways (msgpack bodies). */
export const ChatSubject = {
  deliver: (userId: string) => `chat.deliver.${userId}`,
  presence: (userId: string) => `chat.presence.${userId}`,
  broadcast: 'chat.broadcast',
  online: 'chat.online',
} as const

export const PRESENCE_TIMEOUT_MS = 500

/** Sessions a gateway reports in its reply (`{ sessions: n }`); 0 for anything else. */
export function sessionsOf(data: Uint8Array): number {
  try {
    const v = decodeBody(data) as { sessions?: unknown } | undefined
    return typeof v?.sessions === 'number' && v.sessions > 0 ? v.sessions : 0
  } catch {
    return 0
  }
}

/** Whether some gateway holds a session of `userId` (no responders or no reply in time: offline). */
export async function isOnline(nc: NatsConnection, userId: string, timeoutMs = PRESENCE_TIMEOUT_MS): Promise<boolean> {
  try {
    const reply = await nc.request(ChatSubject.presence(userId), undefined, { timeout: timeoutMs })
    return sessionsOf(reply.data) > 0
  } catch {
    return false
  }
}
