import type { NatsConnection, Subscription, Msg } from '@nats-io/nats-core'
import { decodeBody, encodeBody, type Logger } from 'switchboard'
import { ChatSubject } from '../shared/presence.ts'
import { GatewayEvent } from './protocol.ts'
import type { Session } from './session.ts'

const USER_ID = /^[A-Za-z0-9_-]{1,64}$/

interface UserEntry {
  readonly sessions: Set<Session>
  readonly subs: Subscription[]
}

/**
 * The logged-in sessions of one gateway, by user. The first session of a user subscribes
 * `chat.deliver.<userId>` and `chat.presence.<userId>` (plain subscriptions, so every gateway holding
 * the user answers); the last one to leave unsubscribes them.
 */
export class SessionRegistry {
  readonly #users = new Map<string, UserEntry>()

  constructor(
    readonly nc: NatsConnection,
    readonly logger: Logger,
  ) {}

  /** Binds `session` to `userId` (leaving any user it had) and makes sure the user's subjects are subscribed. */
  async attach(session: Session, userId: string, token: string): Promise<void> {
    if (!USER_ID.test(userId)) throw new Error(`refusing to subscribe for user id '${userId}'`)
    if (session.userId !== userId) this.detach(session)
    session.userId = userId
    session.token = token
    let entry = this.#users.get(userId)
    if (entry === undefined) {
      entry = { sessions: new Set(), subs: [] }
      this.#users.set(userId, entry)
      const e = entry
      entry.subs.push(
        this.nc.subscribe(ChatSubject.deliver(userId), { callback: (err, msg) => void (err === null && this.#deliver(msg, e)) }),
        this.nc.subscribe(ChatSubject.presence(userId), { callback: (err, msg) => void (err === null && reply(msg, { sessions: e.sessions.size })) }),
      )
    }
    entry.sessions.add(session)
    await this.nc.flush()
  }

  /** Forgets the session's user; the user's last session unsubscribes its subjects. */
  detach(session: Session): void {
    const userId = session.userId
    session.userId = undefined
    session.token = undefined
    if (userId === undefined) return
    const entry = this.#users.get(userId)
    if (entry === undefined) return
    entry.sessions.delete(session)
    if (entry.sessions.size > 0) return
    this.#users.delete(userId)
    for (const s of entry.subs) s.unsubscribe()
  }

  /** Users with at least one session here. */
  userIds(): string[] {
    return [...this.#users.keys()]
  }

  /** Every logged-in session here. */
  *sessions(): Iterable<Session> {
    for (const e of this.#users.values()) yield* e.sessions
  }

  /** Pushes a broadcast to every logged-in session here; returns how many sessions hold it. */
  broadcast(message: PushedMessage): number {
    let n = 0
    for (const s of this.sessions()) {
      if (s.firstSight(message.messageId)) s.send({ event: GatewayEvent.broadcast, message })
      n++
    }
    return n
  }

  /** Unsubscribes everything (the gateway is closing). */
  clear(): void {
    for (const e of this.#users.values()) for (const s of e.subs) s.unsubscribe()
    this.#users.clear()
  }

  #deliver(msg: Msg, entry: UserEntry): void {
    const message = readMessage(msg, this.logger)
    if (message === undefined) return
    const event = message.kind === 'broadcast' ? GatewayEvent.broadcast : GatewayEvent.message
    for (const s of entry.sessions) if (s.firstSight(message.messageId)) s.send({ event, message })
    reply(msg, { sessions: entry.sessions.size })
  }
}

/** The least a pushed message must have: an id to deduplicate on. The rest is passed on as the module sent it. */
export interface PushedMessage {
  readonly messageId: string
  readonly kind?: unknown
  readonly [key: string]: unknown
}

/** Decodes a pushed Message body, or logs and returns undefined. */
export function readMessage(msg: Msg, logger: Logger): PushedMessage | undefined {
  try {
    const v = decodeBody(msg.data) as PushedMessage | undefined
    if (typeof v === 'object' && v !== null && typeof v.messageId === 'string' && v.messageId !== '') return v
  } catch {
    // reported below
  }
  logger.warn({ subject: msg.subject, bytes: msg.data.length }, 'ignoring a pushed message without a messageId')
  return undefined
}

/** Replies with a msgpack body when the message asked for a reply. */
export function reply(msg: Msg, body: unknown): void {
  if (msg.reply) msg.respond(encodeBody(body))
}
