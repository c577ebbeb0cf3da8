import { readFile } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'

/** The static files of the web chat page and the operations dashboard, by URL path. */
export const WEB_FILES: ReadonlyMap<string, { readonly file: string; readonly type: string }> = new Map([
  ['/', { file: 'index.html', type: 'text/html; charset=utf-8' }],
  ['/index.html', { file: 'index.html', type: 'text/html; charset=utf-8' }],
  ['/app.js', { file: 'app.js', type: 'text/javascript; charset=utf-8' }],
  ['/gateway-client.js', { file: 'gateway-client.js', type: 'text/javascript; charset=utf-8' }],
  ['/chat-connection.js', { file: 'chat-connection.js', type: 'text/javascript; charset=utf-8' }],
  ['/style.css', { file: 'style.css', type: 'text/css; charset=utf-8' }],
  ['/ops', { file: 'ops.html', type: 'text/html; charset=utf-8' }],
  ['/ops.js', { file: 'ops.js', type: 'text/javascript; charset=utf-8' }],
  ['/chart.js', { file: 'chart.js', type: 'text/javascript; charset=utf-8' }],
])

/** The pages load only their own scripts and styles, and talk only to their own origin (HTTP, WebSocket). */
const PAGE_CSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

const DIR = new URL('./', import.meta.url)

/** Serves one of WEB_FILES for `GET`/`HEAD` of its path; returns false for any other request. */
export function serveWeb(path: string, req: IncomingMessage, res: ServerResponse): boolean {
  const entry = WEB_FILES.get(path)
  if (entry === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) return false
  readFile(new URL(entry.file, DIR)).then(
    (body) => {
      const headers: Record<string, string | number> = {
        'content-type': entry.type,
        'content-length': body.length,
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
      }
      if (entry.file.endsWith('.html')) headers['content-security-policy'] = PAGE_CSP
      res.writeHead(200, headers)
      res.end(req.method === 'HEAD' ? undefined : body)
    },
    () => res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`cannot read ${entry.file}\n`),
  )
  return true
}
