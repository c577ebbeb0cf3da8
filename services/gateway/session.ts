import type { WebSocket } from 'ws'
import type { EventFrame, ReplyFrame } from './protocol.ts'

/** What the gateway knows of one WebSocket: who logged in on it, and which messages it was already sent. */
export class Session {
  userId: string | undefined = undefined
  token: string | undefined = undefined
  inFlight = 0
  readonly #seen = new Set<string>()

  constructor(
    readonly socket: WebSocket,
    readonly seenLimit: number,
    readonly maxBufferedBytes: number,
  ) {}

  /** True the first time `messageId` is offered to this session; remembers the last `seenLimit` ids. */
  firstSight(messageId: string): boolean {
    if (this.#seen.has(messageId)) return false
    this.#seen.add(messageId)
    if (this.#seen.size > this.seenLimit) this.#seen.delete(this.#seen.values().next().value!)
    return true
  }

  /** Sends a frame if the socket is open; closes a socket that is not reading (1013) instead of buffering forever. */
  send(frame: ReplyFrame | EventFrame): boolean {
    if (this.socket.readyState !== this.socket.OPEN) return false
    if (this.socket.bufferedAmount > this.maxBufferedBytes) {
      this.socket.close(1013, 'too much unread data')
      return false
    }
    this.socket.send(JSON.stringify(frame))
    return true
  }
}
