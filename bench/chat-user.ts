import WebSocket from 'ws'

/** A pushed chat message as the gateway sends it (docs/gateway-protocol.md). */
export interface PushedMessage {
  messageId: string
  kind: string
  text: string
}

/** One simulated chat user: a WebSocket to the gateway, JSON calls with ids, pushed events to a callback. */
export class ChatUser {
  readonly #ws: WebSocket
  readonly #waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  #seq = 0
  onMessage: (m: PushedMessage) => void = () => {}

  private constructor(ws: WebSocket) {
    this.#ws = ws
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
      else w?.reject(new Error(`${f.error?.code}: ${f.error?.message}`))
    })
    ws.on('close', () => {
      for (const w of this.#waiting.values()) w.reject(new Error('socket closed'))
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

  /** Calls `<service>.<method>` through the gateway. */
  call<T = unknown>(call: string, input: unknown = {}, timeoutMs = 30_000): Promise<T> {
    const id = ++this.#seq
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => {
        this.#waiting.delete(id)
        reject(new Error(`${call} timed out`))
      }, timeoutMs)
      this.#waiting.set(id, { resolve: (v) => (clearTimeout(t), resolve(v as T)), reject: (e) => (clearTimeout(t), reject(e)) })
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
