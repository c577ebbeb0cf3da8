import { WebSocket } from 'ws'

/** A failed call, as the gateway reported it (or a local failure: UNAVAILABLE, DEADLINE_EXCEEDED). */
export class CallError extends Error {
  override readonly name = 'CallError'
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message)
  }
}

/** An event frame pushed by the gateway: `{ event: 'message' | 'broadcast' | 'session' | 'hello', ... }`. */
export interface PushEvent {
  readonly event: string
  readonly [key: string]: unknown
}

export interface ConnectionOptions {
  /** Timeout of a call, ms. */
  readonly timeout?: number
  /** Events kept for waitForEvent() before the oldest are dropped. */
  readonly keepEvents?: number
}

export const DEFAULT_CONNECTION_OPTIONS: Required<ConnectionOptions> = { timeout: 10_000, keepEvents: 1_000 }

interface Pending {
  resolve(v: unknown): void
  reject(e: Error): void
  timer: ReturnType<typeof setTimeout>
}

/** A client of the gateway's JSON protocol (docs/gateway-protocol.md) over one WebSocket. */
export class GatewayConnection {
  readonly #pending = new Map<number, Pending>()
  readonly #listeners = new Set<(e: PushEvent) => void>()
  readonly #events: PushEvent[] = []
  readonly #waiters = new Set<{ match: (e: PushEvent) => boolean; resolve: (e: PushEvent) => void }>()
  readonly #opts: Required<ConnectionOptions>
  #nextId = 1

  private constructor(
    readonly socket: WebSocket,
    opts: ConnectionOptions,
  ) {
    this.#opts = { ...DEFAULT_CONNECTION_OPTIONS, ...opts }
    socket.on('message', (data) => this.#onFrame(String(data)))
    socket.on('close', () => {
      for (const p of this.#pending.values()) {
        clearTimeout(p.timer)
        p.reject(new CallError('UNAVAILABLE', 503, 'connection to the gateway closed'))
      }
      this.#pending.clear()
    })
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
    return this.socket.readyState === WebSocket.OPEN
  }

  /** Calls `service.method` with `input`; resolves with the result or rejects with a CallError. */
  call<T = unknown>(call: string, input: unknown = {}, timeout = this.#opts.timeout): Promise<T> {
    if (!this.open) return Promise.reject(new CallError('UNAVAILABLE', 503, 'not connected to the gateway'))
    const id = this.#nextId++
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject(new CallError('DEADLINE_EXCEEDED', 504, `${call}: no reply in ${timeout} ms`))
      }, timeout)
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer })
      this.socket.send(JSON.stringify({ id, call, input }))
    })
  }

  /** Calls `listener` for every pushed event; returns a function that stops it. */
  onEvent(listener: (e: PushEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
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
      this.socket.close(1000)
    })
  }

  #onFrame(text: string): void {
    let frame: Record<string, unknown>
    try {
      frame = JSON.parse(text) as Record<string, unknown>
    } catch {
      return
    }
    if (typeof frame.event === 'string') return this.#onEvent(frame as PushEvent)
    const p = typeof frame.id === 'number' ? this.#pending.get(frame.id) : undefined
    if (p === undefined) return this.#onEvent({ event: 'unmatched', frame })
    this.#pending.delete(frame.id as number)
    clearTimeout(p.timer)
    if (frame.ok === true) return p.resolve(frame.result)
    const e = (frame.error ?? {}) as { code?: string; status?: number; message?: string; data?: unknown }
    p.reject(new CallError(e.code ?? 'INTERNAL', e.status ?? 500, e.message ?? 'malformed error frame', e.data))
  }

  #onEvent(e: PushEvent): void {
    for (const l of this.#listeners) l(e)
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
