import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import type { Logger } from 'switchboard'
import { EdgeLimit, type EdgeLimits, type UpgradeRefusal } from './edge-limits.ts'
import { addressKey, createListener, originAllowed, peerAddress, refuseUpgrade, type TlsFiles } from './http-listener.ts'
import { CHAT_FILES, serveWeb } from './web/static.ts'

/** What the gateway's public listener needs of the gateway. */
export interface ChatListenerOptions {
  readonly tls: TlsFiles | false
  readonly origins: readonly string[]
  readonly edge: EdgeLimits
  /** Frames bigger than this close the socket (1009) unread. */
  readonly maxPayload: number
  /** Whether the gateway is stopping: upgrades then get 503. */
  readonly closing: () => boolean
  /** An upgrade turned away by its Origin or an edge limit. */
  readonly onRefused: (r: UpgradeRefusal) => void
  /** A socket opened from `address` (the key its edge limits count it by). */
  readonly onConnection: (socket: WebSocket, address: string) => void
  readonly logger: Logger
}

/** The gateway's public listener, not listening yet. */
export interface ChatListener {
  readonly http: Server
  readonly wss: WebSocketServer
}

/**
 * The gateway's public listener: the chat page over HTTP(S), and WebSocket upgrades checked first for their Origin
 * and the edge limits, refused with a plain HTTP answer before `ws` reads them. A socket counted by the limits is
 * released when its TCP socket closes, once, whether the handshake fails or the WebSocket closes later.
 */
export function createChatListener(o: ChatListenerOptions): ChatListener {
  const secure = o.tls !== false
  const http = createListener((req, res) => handleHttp(req, res, secure), o.tls)
  const wss = new WebSocketServer({ noServer: true, maxPayload: o.maxPayload })
  wss.on('error', (err) => o.logger.error({ err }, 'websocket server error'))
  const refuse = (socket: Duplex, r: UpgradeRefusal) => {
    o.onRefused(r)
    refuseUpgrade(socket, r.status, r.message, r.status === 403 ? undefined : 1)
  }
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy())
    if (o.closing()) return refuseUpgrade(socket, 503, 'gateway is shutting down: reconnect')
    if (!originAllowed(req, o.origins)) {
      return refuse(socket, { limit: EdgeLimit.origin, status: 403, message: `origin ${req.headers.origin} may not open a socket here` })
    }
    const address = addressKey(peerAddress(req))
    const over = o.edge.open(address)
    if (over !== undefined) return refuse(socket, over)
    socket.once('close', () => o.edge.close(address))
    wss.handleUpgrade(req, socket, head, (ws) => o.onConnection(ws, address))
  })
  return { http, wss }
}

function handleHttp(req: IncomingMessage, res: ServerResponse, secure: boolean): void {
  const path = (req.url ?? '/').split('?')[0]!
  if (req.method === 'GET' && path === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
    return
  }
  if (serveWeb(CHAT_FILES, path, req, res, secure)) return
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: the chat page is at /; WebSocket clients connect to any path\n')
}
