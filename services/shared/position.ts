import { createHmac } from 'node:crypto'
import { systemError } from 'switchboard'

/** The dev key of feed positions; a deployment sets its own (SWITCHBOARD_FEED_KEY). */
export const DEV_FEED_KEY = 'switchboard-dev-feed-key'

const FORMAT = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{11})$/

/**
 * Feed positions (docs/delivery.md): the message stream's sequence number, in base 36, and a MAC of it and the user
 * it is given to (HMAC-SHA-256 with the deployment's feed key, 8 bytes). Positions order like their sequences; one
 * given to another user, or a garbled one, does not check. They grant nothing: a user only ever reads their own feed.
 */
export class FeedPositions {
  readonly #key: string

  constructor(key: string = DEV_FEED_KEY) {
    this.#key = key
  }

  /** The position of stream sequence `seq` in the feed of `userId`. */
  of(userId: string, seq: number): string {
    return `${seq.toString(36)}.${this.#mac(userId, seq)}`
  }

  /** The sequence a position of `userId`'s stands for; INVALID_ARGUMENT for a garbled one or another user's. */
  seqOf(userId: string, pos: string): number {
    const m = FORMAT.exec(pos)
    const seq = m === null ? Number.NaN : Number.parseInt(m[1]!, 36)
    if (m === null || !Number.isSafeInteger(seq) || this.#mac(userId, seq) !== m[2]) {
      throw systemError('INVALID_ARGUMENT', `'${pos.slice(0, 40)}' is not a position of your feed`)
    }
    return seq
  }

  #mac(userId: string, seq: number): string {
    return createHmac('sha256', this.#key).update(`${userId}:${seq}`).digest('base64url').slice(0, 11)
  }
}
