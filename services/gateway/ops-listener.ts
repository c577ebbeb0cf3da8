import type { IncomingMessage, ServerResponse } from 'node:http'
import { handleOpsHttp } from '../ops/http.ts'
import type { OpsMonitor } from '../ops/monitor.ts'
import type { GatewayMetrics } from './gateway-metrics.ts'
import { createListener, hostAllowed, hostPort, listen, type TlsFiles } from './http-listener.ts'
import { OPS_FILES, serveWeb } from './web/static.ts'

/** Where the gateway's operations surface listens: loopback by default, never the chat port. */
export interface OpsListen {
  /** 0 picks a free port. */
  readonly port: number
  /** Loopback (`127.0.0.1`) unless set: bind a private address only, behind a network you control. */
  readonly host?: string
  /**
   * Host names requests may use besides loopback ones and `host` (e.g. the name a proxy or a private DNS gives it).
   * Others get 421, so a web page that rebinds its DNS name to this address cannot read it.
   */
  readonly hostnames?: readonly string[]
}

/** The operations surface of a gateway, listening. */
export interface OpsListener {
  /** `http(s)://host:port/`: the dashboard; `ops/api`, `ops/events` and `metrics` below it. */
  readonly url: string
  close(): void
}

/**
 * Starts the gateway's operations listener: the dashboard (`/`, `/ops`), its data (`/ops/api`, `/ops/events`) and
 * the gateway's Prometheus metrics (`/metrics`). Plain HTTP on loopback (the gateway's certificate names its public
 * host, not 127.0.0.1); over TLS with `tls` when bound to another address.
 */
export async function startOpsListener(monitor: OpsMonitor, metrics: GatewayMetrics, listen_: OpsListen, tls: TlsFiles | false): Promise<OpsListener> {
  const host = listen_.host ?? '127.0.0.1'
  const secure = tls !== false && !isLoopback(host)
  const names = [host, ...(listen_.hostnames ?? [])]
  let port = listen_.port
  const server = createListener(
    (req, res) => {
      if (!hostAllowed(req, port, names)) {
        res.writeHead(421, { 'content-type': 'text/plain; charset=utf-8' }).end(`the ops listener does not answer to Host ${req.headers.host ?? '(none)'}\n`)
        return
      }
      route(req, res, monitor, metrics, secure)
    },
    secure ? tls : false,
  )
  port = await listen(server, host, listen_.port, 'gateway ops listener (GATEWAY_OPS_PORT)')
  return {
    url: `${secure ? 'https' : 'http'}://${hostPort(host, port)}/`,
    close() {
      server.close()
      server.closeAllConnections()
    },
  }
}

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || host.startsWith('127.')

function route(req: IncomingMessage, res: ServerResponse, monitor: OpsMonitor, metrics: GatewayMetrics, secure: boolean): void {
  const path = (req.url ?? '/').split('?')[0]!
  if (serveWeb(OPS_FILES, path, req, res, secure) || handleOpsHttp(monitor, path, req, res)) return
  if (req.method === 'GET' && path === '/metrics') {
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`${err.message}\n`),
    )
    return
  }
  res
    .writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
    .end('not found: the dashboard is at /ops, its data at /ops/api and /ops/events, metrics at /metrics\n')
}
