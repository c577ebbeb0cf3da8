import type { IncomingMessage, ServerResponse } from 'node:http'
import { handleOpsHttp } from '../ops/http.ts'
import type { OpsMonitor } from '../ops/monitor.ts'
import type { GatewayMetrics } from './gateway-metrics.ts'
import { createListener, hostPort, listen, type TlsFiles } from './http-listener.ts'
import { OPS_FILES, serveWeb } from './web/static.ts'

/** Where the gateway's operations surface listens: loopback by default, never the chat port. */
export interface OpsListen {
  /** 0 picks a free port. */
  readonly port: number
  /** Loopback (`127.0.0.1`) unless set: bind a private address only, behind a network you control. */
  readonly host?: string
}

/** The operations surface of a gateway, listening. */
export interface OpsListener {
  /** `http(s)://host:port/`: the dashboard; `ops/api`, `ops/events` and `metrics` below it. */
  readonly url: string
  close(): void
}

/**
 * Starts the gateway's operations listener: the dashboard (`/`, `/ops`), its data (`/ops/api`, `/ops/events`) and
 * the gateway's Prometheus metrics (`/metrics`). Over TLS when `tls` is given.
 */
export async function startOpsListener(monitor: OpsMonitor, metrics: GatewayMetrics, listen_: OpsListen, tls: TlsFiles | false): Promise<OpsListener> {
  const host = listen_.host ?? '127.0.0.1'
  const secure = tls !== false
  const server = createListener((req, res) => route(req, res, monitor, metrics, secure), tls)
  const port = await listen(server, host, listen_.port, 'gateway ops listener (GATEWAY_OPS_PORT)')
  return {
    url: `${secure ? 'https' : 'http'}://${hostPort(host, port)}/`,
    close() {
      server.close()
      server.closeAllConnections()
    },
  }
}

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
