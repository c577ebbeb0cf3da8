import type { IncomingMessage, ServerResponse } from 'node:http'
import type { OpsMonitor } from './monitor.ts'

/** The dashboard's data routes on the gateway's HTTP server (the page itself is a static file). */
export const OpsRoute = { api: '/ops/api', events: '/ops/events' } as const

/**
 * Answers `GET /ops/api` (the latest snapshot as JSON) and `GET /ops/events` (server-sent events: one `data:` line
 * of snapshot JSON per poll). The first request starts the monitor's polling. Returns false for other paths.
 */
export function handleOpsHttp(monitor: OpsMonitor, path: string, req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method !== 'GET' || (path !== OpsRoute.api && path !== OpsRoute.events)) return false
  const started = monitor.start()
  if (path === OpsRoute.api) {
    void started.then(() => {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(monitor.snapshot()))
    })
    return true
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
  res.write(`retry: 2000\n\n`)
  const send = (s: unknown) => void res.write(`data: ${JSON.stringify(s)}\n\n`)
  void started.then(() => {
    if (!res.writableEnded) send(monitor.snapshot())
  })
  const stop = monitor.listen(send)
  req.once('close', stop)
  res.once('close', stop)
  return true
}
