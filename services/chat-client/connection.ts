import { WebSocket } from 'ws'
import { GatewayClient, type PushEvent } from '../gateway/web/gateway-client.js'

export { CallError, type PushEvent } from '../gateway/web/gateway-client.js'

export interface ConnectionOptions {
  /** Timeout of a call, ms. */
  readonly timeout?: number
  /** Events kept for waitForEvent() before the oldest are dropped. */
  readonly keepEvents?: number
}

export const DEFAULT_CONNECTION_OPTIONS: Required<ConnectionOptions> = { timeout: 10_000, keepEvents: 1_000 }

/**
 * A client of the gateway's JSON protocol over one WebSocket, on Node: the shared protocol client
 * (services/gateway/web/gateway-client.js, which the web page uses too) plus a record of pushed events that
 * scripts and tests can wait for.
 */
export class GatewayConnection {
  readonly #client: GatewayClient
  readonly #events: PushEvent[] = []
  readonly #waiters = new Set<{ match: (e: PushEvent) => boolean; resolve: (e: PushEvent) => void }>()
  readonly #opts: Required<ConnectionOptions>

  private constructor(
    readonly socket: WebSocket,
    opts: ConnectionOptions,
  ) {
    this.#opts = { ...DEFAULT_CONNECTION_OPTIONS, ...opts }
    this.#client = new GatewayClient(socket, { timeout: this.#opts.timeout })
    this.#client.onEvent((e) => this.#onEvent(e))
    socket.on('error', () => undefined)
  }

  /** Opens a connection to `url` (ws://host:port); rejects with a clear error when nothing listens there. */
  static open(url: string, opts: ConnectionOptions = {}): Promise<GatewayConnection> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url)
      const conn = new GatewayConnection(socket, opts)
      socket.once('open', () => resolve(conn))
      socket.once('error', (err) => reject(new Error(`cannot reach the gateway at ${url}: ${err.message}`)))
    })
  }

  /** Whether the socket is open. */
  get open(): boolean {
    return this.#client.open
  }

  /** Calls `service.method` with `input`; resolves with the result or rejects with a CallError. */
  call<T = unknown>(call: string, input: unknown = {}, timeout = this.#opts.timeout): Promise<T> {
    return this.#client.call<T>(call, input, timeout)
  }

  /** Calls `listener` for every pushed event; returns a function that stops it. */
  onEvent(listener: (e: PushEvent) => void): () => void {
    return this.#client.onEvent(listener)
  }

  /** The first kept or future event that `match` accepts (it is consumed); rejects after `timeout` ms. */
  waitForEvent(match: (e: PushEvent) => boolean, timeout = this.#opts.timeout): Promise<PushEvent> {
    const i = this.#events.findIndex(match)
    if (i >= 0) return Promise.resolve(this.#events.splice(i, 1)[0]!)
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (e: PushEvent) => {
          clearTimeout(timer)
          resolve(e)
        },
      }
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter)
        reject(new Error(`no matching event within ${timeout} ms`))
      }, timeout)
      this.#waiters.add(waiter)
    })
  }

  /** Kept events not consumed yet (copies), optionally only those `match` accepts. */
  events(match: (e: PushEvent) => boolean = () => true): PushEvent[] {
    return this.#events.filter(match)
  }

  /** Closes the socket and waits until it is closed. */
  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve()
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve())
      this.#client.close(1000)
    })
  }

  #onEvent(e: PushEvent): void {
    for (const w of this.#waiters) {
      if (w.match(e)) {
        this.#waiters.delete(w)
        return w.resolve(e)
      }
    }
    this.#events.push(e)
    if (this.#events.length > this.#opts.keepEvents) this.#events.shift()
  }
}
