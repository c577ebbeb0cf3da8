import type { NatsConnection } from '@nats-io/nats-core'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { decodeBody, type Logger } from 'switchboard'
import { MESSAGES_STREAM, type StoredEntry } from '../message/entry.ts'

/** How long the tail waits between tries while the message stream does not exist yet, in ms. */
const RETRY_MS = 500

/**
 * The gateway's one reader of the message stream: an ordered consumer from the stream's end at start, so every
 * entry reaches the gateway once, in stream order, with no gap (nats.js recreates the consumer after one). `lastSeq`
 * is the sequence of the last entry handed to `onEntry`: a session attached now gets everything after it live, and
 * reads what came before from its feed (`message.sync`).
 */
export class FeedTail {
  #lastSeq = 0
  #stopped = false
  #ready: Promise<void> | undefined = undefined
  #close: (() => void) | undefined = undefined

  constructor(
    readonly nc: NatsConnection,
    readonly onEntry: (seq: number, entry: StoredEntry) => void,
    readonly logger: Logger,
  ) {}

  /** The sequence of the last entry handed on (the stream's end when the tail started, before any came). */
  get lastSeq(): number {
    return this.#lastSeq
  }

  /** Whether the tail reads the stream (it waits for the stream to exist). */
  get ready(): boolean {
    return this.#close !== undefined
  }

  /** Starts reading; resolves once the tail knows where the stream ends (it retries while the stream is missing). */
  start(): Promise<void> {
    this.#ready ??= this.#start()
    return this.#ready
  }

  async #start(): Promise<void> {
    const jsm = await jetstreamManager(this.nc)
    for (;;) {
      try {
        this.#lastSeq = (await jsm.streams.info(MESSAGES_STREAM)).state.last_seq
        break
      } catch (err) {
        if (this.#stopped) return
        this.logger.debug({ err }, `waiting for the stream ${MESSAGES_STREAM}`)
        await new Promise((r) => setTimeout(r, RETRY_MS))
      }
    }
    const consumer = await jetstream(this.nc).consumers.get(MESSAGES_STREAM, { filter_subjects: 'msg.>', opt_start_seq: this.#lastSeq + 1 })
    const messages = await consumer.consume({ max_messages: 1_024 })
    this.#close = () => void messages.close()?.catch(() => undefined)
    void (async () => {
      for await (const m of messages) {
        if (m.seq <= this.#lastSeq) continue
        this.#lastSeq = m.seq
        let entry: StoredEntry
        try {
          entry = decodeBody(m.data) as StoredEntry
        } catch (err) {
          this.logger.warn({ seq: m.seq, err }, 'skipping an entry of the message stream that does not decode')
          continue
        }
        try {
          this.onEntry(m.seq, entry)
        } catch (err) {
          this.logger.error({ seq: m.seq, err }, 'pushing an entry failed')
        }
      }
    })()
  }

  stop(): void {
    this.#stopped = true
    this.#close?.()
  }
}
