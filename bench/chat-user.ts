import WebSocket from 'ws'

/** A pushed chat message as the gateway sends it (docs/gateway-protocol.md). */
export interface PushedMessage {
  messageId: string
  kind: string
  text: string
}

/**
 * A failed call: the gateway's error frame, or the socket closing or the call timing out. A plain value, not an
 * Error: under overload the load generator gets thousands a second, and a stack trace each would be its own load.
 */
export interface CallFailure {
  readonly message: string
}

interface Waiting {
  readonly resolve: (v: unknown) => void
  readonly reject: (e: CallFailure) => void
  readonly call: string
  readonly deadline: number
}

/** How often a user checks its calls for timeouts (ms): one timer per socket, not one per call. */
const SWEEP_MS = 1_000

/** One simulated chat user: a WebSocket to the gateway, JSON calls with ids, pushed events to a callback. */
export class ChatUser {
  readonly #ws: WebSocket
  readonly #waiting = new Map<number, Waiting>()
  #seq = 0
  #sweep: ReturnType<typeof setInterval> | undefined
  onMessage: (m: PushedMessage) => void = () => {}

  private constructor(ws: WebSocket) {
    this.#ws = ws
    this.#sweep = setInterval(() => {
      const now = performance.now()
      for (const [id, w] of this.#waiting) {
        if (w.deadline > now) continue
        this.#waiting.delete(id)
        w.reject({ message: `${w.call} timed out` })
      }
    }, SWEEP_MS)
    this.#sweep.unref()
    ws.on('message', (data) => {
      const f = JSON.parse(String(data)) as {
        id?: number
        ok?: boolean
        result?: unknown
        error?: { code: string; message: string }
        event?: string
        message?: PushedMessage
      }
      if (f.event === 'message' && f.message !== undefined) return this.onMessage(f.message)
      if (typeof f.id !== 'number') return
      const w = this.#waiting.get(f.id)
      this.#waiting.delete(f.id)
      if (f.ok) w?.resolve(f.result)
      else w?.reject({ message: `${f.error?.code}: ${f.error?.message}` })
    })
    ws.on('close', () => {
      clearInterval(this.#sweep)
      for (const w of this.#waiting.values()) w.reject({ message: 'socket closed' })
      this.#waiting.clear()
    })
  }

  /** Opens a socket and waits for the gateway's hello. */
  static open(url: string): Promise<ChatUser> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url)
      ws.once('error', reject)
      ws.once('message', () => resolve(new ChatUser(ws)))
    })
  }

  /** Calls `<service>.<method>` through the gateway; rejects with a CallFailure (timed out after about `timeoutMs`). */
  call<T = unknown>(call: string, input: unknown = {}, timeoutMs = 30_000): Promise<T> {
    const id = ++this.#seq
    return new Promise<T>((resolve, reject) => {
      this.#waiting.set(id, { resolve: resolve as (v: unknown) => void, reject, call, deadline: performance.now() + timeoutMs })
      this.#ws.send(JSON.stringify({ id, call, input }))
    })
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#ws.readyState === WebSocket.CLOSED) return resolve()
      this.#ws.once('close', () => resolve())
      this.#ws.close()
    })
  }
}
