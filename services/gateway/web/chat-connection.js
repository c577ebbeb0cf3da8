// @ts-check
// A chat connection that survives its socket (docs/gateway-protocol.md, "Resuming"): it reconnects by itself with
// backoff, logs the new socket in again with the session's token, and asks for everything after the last feed
// position it saw, so a drop misses nothing and repeats nothing. Shared by the web page and the terminal client.
import { CallError, GatewayClient } from './gateway-client.js'

/**
 * @typedef {import('./gateway-client.js').PushEvent} PushEvent
 * @typedef {import('./gateway-client.js').SocketLike} SocketLike
 * @typedef {{ get(key: string): string | null, set(key: string, value: string): void, remove(key: string): void }} KeyStore
 * @typedef {'connecting' | 'online' | 'offline'} LinkState
 * @typedef {{ userId: string, username: string }} Me
 */

/** Feed events: each carries the entry's position in `message.pos`. */
const FEED_EVENTS = new Set(['message', 'edited', 'deleted'])

/** A KeyStore in memory (the terminal client, tests). @returns {KeyStore} */
export function memoryStore() {
  const m = new Map()
  return { get: (k) => m.get(k) ?? null, set: (k, v) => void m.set(k, v), remove: (k) => void m.delete(k) }
}

export const DEFAULT_CHAT_CONNECTION = { timeout: 10_000, minBackoffMs: 250, maxBackoffMs: 5_000 }

export class ChatConnection {
  /** @type {GatewayClient | null} */
  #client = null
  /** @type {Set<(e: PushEvent) => void>} */
  #listeners = new Set()
  /** @type {Set<(s: LinkState) => void>} */
  #states = new Set()
  #backoff = 0
  #closed = false
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #retry = undefined
  /** @type {Me | null} */
  me = null

  /**
   * @param {{ url: string, WebSocket: new (url: string) => SocketLike, store?: KeyStore, timeout?: number, minBackoffMs?: number, maxBackoffMs?: number }} options
   */
  constructor({ url, WebSocket, store = memoryStore(), ...rest }) {
    this.url = url
    this.WebSocket = WebSocket
    this.store = store
    this.options = { ...DEFAULT_CHAT_CONNECTION, ...rest }
    this.#backoff = this.options.minBackoffMs
    const me = store.get('me')
    if (me !== null) this.me = JSON.parse(me)
  }

  /** The last feed position this connection saw for the user logged in, or undefined. */
  get pos() {
    return this.me === null ? undefined : (this.store.get(`pos:${this.me.userId}`) ?? undefined)
  }

  /** Whether the socket is open now. */
  get open() {
    return this.#client?.open ?? false
  }

  /** Opens the first socket; it reconnects by itself until `close()`. */
  start() {
    this.#closed = false
    this.#connect()
    return this
  }

  /** @param {(e: PushEvent) => void} listener every event the gateway pushes, and `resumed` / `signed-out` of its own */
  onEvent(listener) {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** @param {(s: LinkState) => void} listener */
  onState(listener) {
    this.#states.add(listener)
    return () => this.#states.delete(listener)
  }

  /**
   * A call on the current socket (UNAVAILABLE while there is none).
   * @template [T=unknown]
   * @param {string} name
   * @param {unknown} [input]
   * @returns {Promise<T>}
   */
  call(name, input = {}) {
    if (this.#client === null || !this.#client.open) return Promise.reject(new CallError('UNAVAILABLE', 503, 'not connected to the gateway'))
    return this.#client.call(name, input)
  }

  /**
   * Logs in, and catches up from the last position this device saw for that user (when it saw one).
   * @param {string} username
   * @param {string} password
   * @returns {Promise<{ token: string, userId: string, expiresAt: number, pos: string }>}
   */
  async login(username, password) {
    const known = this.store.get(`user:${username}`)
    const after = known === null ? undefined : (this.store.get(`pos:${known}`) ?? undefined)
    /** @type {{ token: string, userId: string, expiresAt: number, pos: string }} */
    let r
    try {
      r = await this.call('user.login', after === undefined ? { username, password } : { username, password, after })
    } catch (err) {
      if (!(err instanceof CallError) || err.code !== 'OUT_OF_RANGE' || known === null) throw err
      this.store.remove(`pos:${known}`)
      this.#emit({ event: 'reload', reason: err.message })
      r = await this.call('user.login', { username, password })
    }
    this.me = { userId: r.userId, username }
    this.store.set('me', JSON.stringify(this.me))
    this.store.set('token', r.token)
    this.store.set(`user:${username}`, r.userId)
    this.#savePos(r.pos)
    return r
  }

  /** Ends the session; this device forgets its token (not its positions: a later login resumes from them). */
  async logout() {
    await this.call('user.logout').catch(() => undefined)
    this.#forget()
  }

  /** Marks the feed read up to the last position seen (`pos`) of where this device is. @param {string} pos */
  seenTo(pos) {
    this.#savePos(pos)
  }

  /** Drops the socket as a network failure would: the connection reconnects and resumes by itself. */
  dropSocket() {
    this.#client?.close(4001)
  }

  /** Closes the socket for good. */
  close() {
    this.#closed = true
    clearTimeout(this.#retry)
    this.#client?.close()
  }

  #connect() {
    if (this.#closed) return
    this.#setState('connecting')
    const socket = new this.WebSocket(this.url)
    const client = new GatewayClient(socket, { timeout: this.options.timeout })
    this.#client = client
    client.onEvent((e) => {
      if (e.event === 'hello') void this.#resume()
      else if (e.event === 'session' && e.userId === null) {
        this.#forget()
        this.#emit({ event: 'signed-out', reason: e.reason })
        return
      }
      this.#emit(e)
      if (FEED_EVENTS.has(e.event)) this.#savePos(/** @type {{ pos?: string } | undefined} */ (e.message)?.pos)
    })
    socket.addEventListener('close', () => {
      if (this.#client !== client) return
      this.#client = null
      this.#setState('offline')
      if (this.#closed) return
      const wait = Math.round(this.#backoff * (0.5 + Math.random() / 2))
      this.#backoff = Math.min(this.#backoff * 2, this.options.maxBackoffMs)
      this.#retry = setTimeout(() => this.#connect(), wait)
    })
  }

  /**
   * After the gateway's hello: logs the new socket in with the token, from the last position seen.
   * @returns {Promise<void>}
   */
  async #resume() {
    this.#backoff = this.options.minBackoffMs
    const token = this.store.get('token')
    if (token === null || this.me === null) return this.#setState('online')
    const after = this.pos
    this.#emit({ event: 'resuming', me: this.me })
    try {
      const who = await this.call('session.resume', after === undefined ? { token } : { token, after })
      this.#savePos(/** @type {{ pos?: string }} */ (who).pos)
      this.#setState('online')
      this.#emit({ event: 'resumed', who })
    } catch (err) {
      if (err instanceof CallError && err.code === 'OUT_OF_RANGE' && this.me !== null) {
        this.store.remove(`pos:${this.me.userId}`)
        this.#emit({ event: 'reload', reason: err.message })
        return this.#resume()
      }
      if (err instanceof CallError && (err.code === 'UNAUTHENTICATED' || err.code === 'INVALID_ARGUMENT')) {
        this.#forget()
        this.#emit({ event: 'signed-out', reason: err.message })
        return this.#setState('online')
      }
      // the gateway or a module is not ready: the socket is dropped and the next one tries again
      this.#client?.close(4000)
    }
  }

  /** @param {string | undefined} pos */
  #savePos(pos) {
    if (pos !== undefined && this.me !== null) this.store.set(`pos:${this.me.userId}`, pos)
  }

  #forget() {
    this.store.remove('token')
    this.store.remove('me')
    this.me = null
  }

  /** @param {PushEvent} e */
  #emit(e) {
    for (const l of this.#listeners) l(e)
  }

  /** @param {LinkState} s */
  #setState(s) {
    for (const l of this.#states) l(s)
  }
}
