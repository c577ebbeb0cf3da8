import type { Msg, NatsConnection, Subscription } from '@nats-io/nats-core'
import { decodeBody, encodeBody, type Logger } from 'switchboard'
import { recipientsOf, type StoredEntry } from '../message/entry.ts'
import type { FeedPositions } from '../shared/position.ts'
import { announcePresence, ChatSubject } from '../shared/presence.ts'
import { entryFrames } from './frames.ts'
import { GatewayEvent } from './protocol.ts'
import type { Session } from './session.ts'

const USER_ID = /^[A-Za-z0-9_-]{1,64}$/

interface UserEntry {
  readonly sessions: Set<Session>
  readonly subs: Subscription[]
}

/**
 * The logged-in sessions of one gateway, by user. The first session of a user subscribes `chat.user.<userId>`
 * (ephemeral events: typing, read) and `chat.presence.<userId>` (plain subscriptions, so every gateway holding the
 * user answers) and announces the user online; the last one to leave unsubscribes them and announces it again.
 * Feed entries come from the gateway's tail of the message stream (`deliver`), in stream order.
 */
export class SessionRegistry {
  readonly #users = new Map<string, UserEntry>()

  constructor(
    readonly nc: NatsConnection,
    readonly positions: FeedPositions,
    readonly logger: Logger,
    /** A session that fell too far behind while catching up: the gateway tells it to resume again. */
    readonly overflowed: (s: Session) => void = () => undefined,
  ) {}

  /** Binds `session` to `userId` (leaving any user it had) and makes sure the user's subjects are subscribed. */
  async attach(session: Session, userId: string, token: string): Promise<void> {
    if (!USER_ID.test(userId)) throw new Error(`refusing to subscribe for user id '${userId}'`)
    if (session.userId !== userId) this.detach(session)
    session.userId = userId
    session.token = token
    let entry = this.#users.get(userId)
    if (entry !== undefined) {
      entry.sessions.add(session)
      return
    }
    entry = { sessions: new Set([session]), subs: [] }
    this.#users.set(userId, entry)
    const e = entry
    entry.subs.push(
      this.nc.subscribe(ChatSubject.user(userId), { callback: (err, msg) => void (err === null && this.#event(msg, e)) }),
      this.nc.subscribe(ChatSubject.presence(userId), { callback: (err, msg) => void (err === null && reply(msg, { sessions: e.sessions.size })) }),
    )
    await this.nc.flush()
    if (this.#users.get(userId) === e) announcePresence(this.nc, userId)
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
    if (!this.nc.isClosed()) announcePresence(this.nc, userId)
  }

  /** The sessions of `userId` here. */
  sessionsOf(userId: string): ReadonlySet<Session> {
    return this.#users.get(userId)?.sessions ?? NONE
  }

  /** Users with at least one session here. */
  userIds(): string[] {
    return [...this.#users.keys()]
  }

  /** Every logged-in session here. */
  *sessions(): Iterable<Session> {
    for (const e of this.#users.values()) yield* e.sessions
  }

  /** A feed entry from the stream's tail: pushed, in stream order, to every session here of every user it is for. */
  deliver(seq: number, entry: StoredEntry): void {
    let frames: ((userId: string) => string) | undefined
    for (const userId of recipientsOf(entry)) {
      const e = this.#users.get(userId)
      if (e === undefined) continue
      frames ??= entryFrames(entry, seq, this.positions)
      const text = frames(userId)
      for (const s of e.sessions) if (!s.push(seq, text)) this.overflowed(s)
    }
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
    for (const [userId, e] of this.#users) {
      for (const s of e.subs) s.unsubscribe()
      if (!this.nc.isClosed()) announcePresence(this.nc, userId)
    }
    this.#users.clear()
  }

  /** An ephemeral event for one user (`chat.user.<userId>`): passed on to every session of theirs as is. */
  #event(msg: Msg, entry: UserEntry): void {
    let v: unknown
    try {
      v = decodeBody(msg.data)
    } catch {
      v = undefined
    }
    const event = (v as { event?: unknown } | undefined)?.event
    if (typeof event !== 'string' || !Object.hasOwn(EPHEMERAL, event)) {
      this.logger.warn({ subject: msg.subject, bytes: msg.data.length }, 'ignoring an event that is not typing or read')
      return
    }
    const text = JSON.stringify(v)
    for (const s of entry.sessions) s.sendText(text)
  }
}

/** The ephemeral events modules send to a user's sessions. */
const EPHEMERAL = { typing: true, read: true } as const

const NONE: ReadonlySet<Session> = new Set()

/** The least a pushed broadcast must have: an id to deduplicate on. The rest is passed on as the module sent it. */
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
