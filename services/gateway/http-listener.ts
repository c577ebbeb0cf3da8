import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { Duplex } from 'node:stream'

/** TLS of a listener: the PEM texts of its certificate (chain) and private key. */
export interface TlsFiles {
  readonly cert: string | Buffer
  readonly key: string | Buffer
}

/** An HTTP server, or HTTPS with `tls`. Listens on nothing yet. */
export function createListener(handler: RequestListener, tls: TlsFiles | false): Server {
  return tls === false ? createHttpServer(handler) : createHttpsServer({ cert: tls.cert, key: tls.key }, handler)
}

/** Listens on `host:port` (0: a free port) and resolves with the port; "in use" names `what` and its variable. */
export function listen(server: Server, host: string, port: number, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE' ? new Error(`${what} ${hostPort(host, port)} is in use`) : err)
    }
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      resolve((server.address() as { port: number }).port)
    })
  })
}

/** `host:port`, with an IPv6 host in brackets. */
export function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`
}

/**
 * Whether a WebSocket upgrade may go on as far as its `Origin` goes. A client that sends none is not a browser page
 * and is not checked; a page must be the gateway's own (its origin's host and port are the Host the browser asked
 * for, whatever the scheme, so a TLS-terminating proxy in front changes nothing) or one of `origins`
 * (`scheme://host[:port]`, exactly; `*` allows any).
 */
export function originAllowed(req: IncomingMessage, origins: readonly string[]): boolean {
  const origin = req.headers.origin
  if (origin === undefined) return true
  const o = origin.toLowerCase()
  if (origins.includes('*') || origins.includes(o)) return true
  const host = req.headers.host?.toLowerCase()
  const m = /^https?:\/\/([^/]+)$/.exec(o)
  return host !== undefined && m !== null && m[1] === host
}

/**
 * Whether a request names one of `hostnames` (or a loopback name) in its Host header, with `port`: a page that
 * rebinds its own DNS name to 127.0.0.1 sends its own name, and is refused.
 */
export function hostAllowed(req: IncomingMessage, port: number, hostnames: readonly string[]): boolean {
  const host = req.headers.host?.toLowerCase()
  if (host === undefined) return false
  return [...LOOPBACK_NAMES, ...hostnames].some((name) => host === hostPort(name.toLowerCase(), port))
}

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '::1']

/**
 * The key the per-address limits count a peer by: an IPv4 address (also when written IPv4-mapped, `::ffff:a.b.c.d`),
 * or the /64 prefix of an IPv6 address, which one host or customer usually holds whole.
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped !== null) return mapped[1]!
  if (!address.includes(':')) return address
  const [head = '', tail] = address.toLowerCase().split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = tail === undefined ? left : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`
}

/** The peer address of a request's socket (`unknown` when it is gone). */
export function peerAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown'
}

const REASON: Record<number, string> = { 403: 'Forbidden', 429: 'Too Many Requests', 503: 'Service Unavailable' }

/** Answers an upgrade request with a plain HTTP error and closes its socket: a refusal that costs one write. */
export function refuseUpgrade(socket: Duplex, status: number, message: string, retryAfterS?: number): void {
  const body = `${message}\n`
  const head = [
    `HTTP/1.1 ${status} ${REASON[status] ?? 'Error'}`,
    'Connection: close',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...(retryAfterS === undefined ? [] : [`Retry-After: ${retryAfterS}`]),
  ]
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`)
}
