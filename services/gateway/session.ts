import type { WebSocket } from 'ws'
import type { FrameBudget } from './edge-limits.ts'
import type { EventFrame, ReplyFrame } from './protocol.ts'

/** Live pushes a session holds back while it catches up, before it gives up (the client resumes again). */
export const MAX_HELD = 10_000

/**
 * What the gateway knows of one WebSocket: who logged in on it, the last feed sequence it was sent (it is sent each
 * entry once, in order), and which broadcast and offline messages it already had.
 */
export class Session {
  userId: string | undefined = undefined
  token: string | undefined = undefined
  inFlight = 0
  /** The stream sequence of the last feed entry pushed to this socket (or that it is past). */
  lastSeq = 0
  /** The socket was sent every entry for its user after this sequence, up to `lastSeq`. */
  since = 0
  /** While it catches up: the live pushes held back, in stream order; undefined when live. */
  #held: { seq: number; text: string }[] | undefined = undefined
  readonly #seen = new Set<string>()
  #corked = false

  constructor(
    readonly socket: WebSocket,
    readonly seenLimit: number,
    readonly maxBufferedBytes: number,
    /** The peer's IP address, as the edge limits count it. */
    readonly address: string,
    /** What this socket may still send: one token per frame. */
    readonly frames: FrameBudget,
  ) {}

  /** Whether the session is catching up (live pushes are held back). */
  get catchingUp(): boolean {
    return this.#held !== undefined
  }

  /** True the first time `messageId` is offered to this session; remembers the last `seenLimit` ids. */
  firstSight(messageId: string): boolean {
    if (this.#seen.has(messageId)) return false
    this.#seen.add(messageId)
    if (this.#seen.size > this.seenLimit) this.#seen.delete(this.#seen.values().next().value!)
    return true
  }

  /**
   * The feed entry at `seq`, as the JSON text of its event, for this socket: sent when it is new to it, held back
   * while the session catches up. False when the session gave up catching up (too much held back).
   */
  push(seq: number, text: string): boolean {
    if (this.#held !== undefined) {
      if (this.#held.length >= MAX_HELD) return false
      this.#held.push({ seq, text })
      return true
    }
    if (seq <= this.lastSeq) return true
    this.lastSeq = seq
    this.sendText(text)
    return true
  }

  /** A feed entry read while catching up (not from the live tail): sent when it is new to this socket. */
  replay(seq: number, text: string): void {
    if (seq <= this.lastSeq) return
    this.lastSeq = seq
    this.sendText(text)
  }

  /** From now on live pushes are held back until `live()`. */
  holdLive(): void {
    this.#held ??= []
  }

  /** Catching up failed: the live pushes held back are dropped (the session is no longer logged in). */
  dropHeld(): void {
    this.#held = undefined
  }

  /** Catching up is done up to `seq`: sends what was held back after it, in order, and goes live. */
  live(seq: number): void {
    const held = this.#held ?? []
    this.#held = undefined
    if (seq > this.lastSeq) this.lastSeq = seq
    for (const h of held) this.push(h.seq, h.text)
  }

  /** Sends a frame if the socket is open; closes a socket that is not reading (1013) instead of buffering forever. */
  send(frame: ReplyFrame | EventFrame): boolean {
    return this.sendText(JSON.stringify(frame))
  }

  /** Sends a frame already in JSON text. */
  sendText(text: string): boolean {
    if (this.socket.readyState !== this.socket.OPEN) return false
    if (this.socket.bufferedAmount > this.maxBufferedBytes) {
      this.socket.close(1013, 'too much unread data')
      return false
    }
    this.#cork()
    this.socket.send(text)
    return true
  }

  /**
   * Holds this socket's writes until the end of the event loop's turn: the frames pushed to it while one batch of
   * the stream's entries is handed on leave in one write (one syscall), not one each. `ws` keeps its TCP socket in a
   * private field; without it frames go out one by one, as before.
   */
  #cork(): void {
    if (this.#corked) return
    const raw = (this.socket as unknown as { _socket?: { cork?: () => void; uncork: () => void } | null })._socket
    if (raw == null || typeof raw.cork !== 'function') return
    raw.cork()
    this.#corked = true
    setImmediate(() => {
      this.#corked = false
      raw.uncork()
    })
  }
}
