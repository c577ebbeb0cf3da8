// @ts-check
// The one client of the gateway's JSON WebSocket protocol (docs/gateway-protocol.md), shared by the web page
// (services/gateway/web/app.js, in the browser) and the terminal client, the demo and the tests (through
// services/chat-client/connection.ts, on Node with the `ws` package). A plain ES module with no imports, so the
// browser loads it as is; `// @ts-check` and JSDoc types keep it checked by `tsc` with the rest of the code.

/**
 * The part of the WHATWG WebSocket this client uses: the browser's WebSocket and `ws`'s both have it.
 * @typedef {object} SocketLike
 * @property {number} readyState
 * @property {(data: string) => void} send
 * @property {(code?: number, reason?: string) => void} close
 * @property {(type: 'message' | 'close', listener: (ev: any) => void) => void} addEventListener
 */

/**
 * A frame the gateway pushes without being asked: `{ event: 'hello' | 'message' | 'broadcast' | 'session' | ... }`.
 * @typedef {{ readonly event: string, readonly [key: string]: unknown }} PushEvent
 */

/** WebSocket.OPEN, the same number in every implementation. */
const OPEN = 1

export const DEFAULT_CALL_TIMEOUT_MS = 10_000

/** A failed call, as the gateway reported it, or a local failure (UNAVAILABLE, DEADLINE_EXCEEDED). */
export class CallError extends Error {
  /**
   * @param {string} code a status code of the gateway protocol (`BAD_CREDENTIALS`, `UNAVAILABLE`, ...)
   * @param {number} status its number
   * @param {string} message
   * @param {unknown} [data]
   */
  constructor(code, status, message, data) {
    super(message)
    this.name = 'CallError'
    this.code = code
    this.status = status
    this.data = data
  }
}

/**
 * The protocol over one open socket: call frames with ids, their replies matched back, pushed events to listeners.
 * Calls in flight fail with UNAVAILABLE when the socket closes, and with DEADLINE_EXCEEDED when no reply comes in time.
 */
export class GatewayClient {
  /** @type {Map<number, { resolve: (v: unknown) => void, reject: (e: Error) => void, timer: ReturnType<typeof setTimeout> }>} */
  #pending = new Map()
  /** @type {Set<(e: PushEvent) => void>} */
  #listeners = new Set()
  #nextId = 1

  /**
   * @param {SocketLike} socket an open (or opening) WebSocket to the gateway
   * @param {{ timeout?: number }} [options] the default timeout of a call, in ms
   */
  constructor(socket, { timeout = DEFAULT_CALL_TIMEOUT_MS } = {}) {
    this.socket = socket
    this.timeout = timeout
    socket.addEventListener('message', (e) => this.#onFrame(String(e.data)))
    socket.addEventListener('close', () => this.#failAll(new CallError('UNAVAILABLE', 503, 'connection to the gateway closed')))
  }

  /** Whether the socket is open. */
  get open() {
    return this.socket.readyState === OPEN
  }

  /** Calls in flight. */
  get pending() {
    return this.#pending.size
  }

  /**
   * Calls `service.method` with `input`; resolves with the result or rejects with a CallError.
   * @template [T=unknown]
   * @param {string} call
   * @param {unknown} [input]
   * @param {number} [timeout] ms
   * @returns {Promise<T>}
   */
  call(call, input = {}, timeout = this.timeout) {
    if (!this.open) return Promise.reject(new CallError('UNAVAILABLE', 503, 'not connected to the gateway'))
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject(new CallError('DEADLINE_EXCEEDED', 504, `${call}: no reply within ${timeout} ms`))
      }, timeout)
      this.#pending.set(id, { resolve: /** @type {(v: unknown) => void} */ (resolve), reject, timer })
      this.socket.send(JSON.stringify({ id, call, input }))
    })
  }

  /**
   * Calls `listener` for every pushed event, and for replies to no call in flight (`{ event: 'unmatched', frame }`);
   * returns a function that stops it.
   * @param {(e: PushEvent) => void} listener
   * @returns {() => void}
   */
  onEvent(listener) {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /**
   * Closes the socket (code 1000 by default).
   * @param {number} [code]
   */
  close(code = 1000) {
    this.socket.close(code)
  }

  /** @param {string} text */
  #onFrame(text) {
    /** @type {Record<string, unknown>} */
    let frame
    try {
      frame = JSON.parse(text)
    } catch {
      return
    }
    if (typeof frame !== 'object' || frame === null) return
    if (typeof frame.event === 'string') return this.#emit(/** @type {PushEvent} */ (frame))
    const p = typeof frame.id === 'number' ? this.#pending.get(frame.id) : undefined
    if (p === undefined) return this.#emit({ event: 'unmatched', frame })
    this.#pending.delete(/** @type {number} */ (frame.id))
    clearTimeout(p.timer)
    if (frame.ok === true) return p.resolve(frame.result)
    const e = /** @type {{ code?: string, status?: number, message?: string, data?: unknown }} */ (frame.error ?? {})
    p.reject(new CallError(e.code ?? 'INTERNAL', e.status ?? 500, e.message ?? 'malformed error frame', e.data))
  }

  /** @param {PushEvent} e */
  #emit(e) {
    for (const l of this.#listeners) l(e)
  }

  /** @param {Error} err */
  #failAll(err) {
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer)
      p.reject(err)
    }
    this.#pending.clear()
  }
}
