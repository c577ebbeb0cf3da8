import type { NatsConnection, Subscription } from '@nats-io/nats-core'
import { decodeBody, encodeBody } from 'switchboard'

/** Subjects of real-time chat traffic outside the message stream (msgpack bodies). */
export const ChatSubject = {
  /** Who is online: a gateway holding a session of the user answers `{ sessions: n }`. */
  presence: (userId: string) => `chat.presence.${userId}`,
  /** Ephemeral events for one user's sessions (typing, read), published by modules; never stored. */
  user: (userId: string) => `chat.user.${userId}`,
  broadcast: 'chat.broadcast',
  online: 'chat.online',
  /** A gateway announces that a user's first session opened or last one closed: `{ userId }`. */
  presenceChanged: 'evt.gateway.presence',
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

/** Tells every module that `userId`'s presence changed (their first session opened, or their last closed). */
export function announcePresence(nc: NatsConnection, userId: string): void {
  nc.publish(ChatSubject.presenceChanged, encodeBody({ userId }))
}

/**
 * Who is online, asked of the gateways (`chat.presence.<userId>`) and remembered for `ttlMs`; forgotten at once
 * when a gateway announces a change (`evt.gateway.presence`). Subscribes at `start()`, not on construction.
 */
export class PresenceCache {
  readonly #known = new Map<string, { online: Promise<boolean>; until: number }>()
  #sub: Subscription | undefined = undefined

  constructor(
    readonly nc: NatsConnection,
    readonly ttlMs = 2_000,
    readonly maxUsers = 50_000,
  ) {}

  start(): void {
    this.#sub ??= this.nc.subscribe(ChatSubject.presenceChanged, {
      callback: (err, msg) => {
        if (err !== null) return
        try {
          const v = decodeBody(msg.data) as { userId?: unknown }
          if (typeof v?.userId === 'string') this.#known.delete(v.userId)
        } catch {
          // not an announcement
        }
      },
    })
  }

  stop(): void {
    this.#sub?.unsubscribe()
    this.#sub = undefined
  }

  /** Whether `userId` has an online session (as of at most `ttlMs` ago, or the last announced change). */
  online(userId: string): Promise<boolean> {
    const now = Date.now()
    const hit = this.#known.get(userId)
    if (hit !== undefined && hit.until > now) return hit.online
    if (this.#known.size >= this.maxUsers) this.#known.clear()
    const online = isOnline(this.nc, userId)
    this.#known.set(userId, { online, until: now + this.ttlMs })
    return online
  }
}
