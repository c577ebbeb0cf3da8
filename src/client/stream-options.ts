import { MAX_HEARTBEAT_MS, MIN_HEARTBEAT_MS, MISSED_BEATS } from '../wire/stream-frames.ts'

/** How a client reads streams (protocol §10). */
export interface StreamOptions {
  /**
   * The most items a stream takes in ahead of its consumer: the worker is never granted more than this many items
   * beyond those the `for await` loop has read, so a slow consumer holds the producer back instead of filling memory.
   */
  readonly credit: number
  /** How often the worker must send something when it has nothing else to send, in ms (`Rpc-Heartbeat`). */
  readonly heartbeat: number
  /**
   * A stream whose worker sends nothing for this long once the stream is open fails with UNAVAILABLE (a worker that
   * crashed or lost its connection), in ms. Default: MISSED_BEATS (3) heartbeats.
   */
  readonly idleTimeout: number
}

export const DEFAULT_STREAM: StreamOptions = Object.freeze({ credit: 512, heartbeat: 1_000, idleTimeout: MISSED_BEATS * 1_000 })

/** The largest credit a client may set: a window of a million items is already more than any consumer needs. */
export const MAX_CREDIT = 1_000_000

/** Fills unset stream options from DEFAULT_STREAM (the idle timeout follows the heartbeat); throws TypeError on bad ones. */
export function resolveStreamOptions(options: Partial<StreamOptions> = {}): StreamOptions {
  const credit = options.credit ?? DEFAULT_STREAM.credit
  if (!Number.isInteger(credit) || credit < 1 || credit > MAX_CREDIT)
    throw new TypeError(`stream.credit must be an integer from 1 to ${MAX_CREDIT}, got ${credit}`)
  const heartbeat = options.heartbeat ?? DEFAULT_STREAM.heartbeat
  if (!Number.isInteger(heartbeat) || heartbeat < MIN_HEARTBEAT_MS || heartbeat > MAX_HEARTBEAT_MS) {
    throw new TypeError(`stream.heartbeat must be an integer number of ms from ${MIN_HEARTBEAT_MS} to ${MAX_HEARTBEAT_MS}, got ${heartbeat}`)
  }
  const idleTimeout = options.idleTimeout ?? MISSED_BEATS * heartbeat
  if (!(idleTimeout > heartbeat) || !Number.isFinite(idleTimeout)) {
    throw new TypeError(`stream.idleTimeout must be a finite number of ms above stream.heartbeat (${heartbeat}), got ${idleTimeout}`)
  }
  return { credit, heartbeat, idleTimeout }
}
