import { readFile } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'

/** A static file: its name in this folder and its content type. */
export interface WebFile {
  readonly file: string
  readonly type: string
}

const HTML = 'text/html; charset=utf-8'
const JS = 'text/javascript; charset=utf-8'
const CSS = 'text/css; charset=utf-8'

/** The web chat page, by URL path: what the gateway's public listener serves. */
export const CHAT_FILES: ReadonlyMap<string, WebFile> = new Map([
  ['/', { file: 'index.html', type: HTML }],
  ['/index.html', { file: 'index.html', type: HTML }],
  ['/app.js', { file: 'app.js', type: JS }],
  ['/gateway-client.js', { file: 'gateway-client.js', type: JS }],
  ['/chat-connection.js', { file: 'chat-connection.js', type: JS }],
  ['/style.css', { file: 'style.css', type: CSS }],
])

/** The operations dashboard, by URL path: served only on the gateway's ops listener. */
export const OPS_FILES: ReadonlyMap<string, WebFile> = new Map([
  ['/', { file: 'ops.html', type: HTML }],
  ['/ops', { file: 'ops.html', type: HTML }],
  ['/ops.js', { file: 'ops.js', type: JS }],
  ['/chart.js', { file: 'chart.js', type: JS }],
  ['/style.css', { file: 'style.css', type: CSS }],
])

/**
 * The pages run only their own scripts (no inline script, no eval), load only their own styles and images, talk only
 * to their own origin (fetch, server-sent events, WebSocket) and may not be framed.
 */
export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/** Headers every static answer carries; pages also get PAGE_CSP, and HSTS over TLS. */
const COMMON_HEADERS = {
  'cache-control': 'no-cache',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'x-frame-options': 'DENY',
} as const

const DIR = new URL('./', import.meta.url)

/** Serves one of `files` for `GET`/`HEAD` of its path; returns false for any other request. `secure`: over TLS. */
export function serveWeb(files: ReadonlyMap<string, WebFile>, path: string, req: IncomingMessage, res: ServerResponse, secure = false): boolean {
  const entry = files.get(path)
  if (entry === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) return false
  readFile(new URL(entry.file, DIR)).then(
    (body) => {
      const headers: Record<string, string | number> = { ...COMMON_HEADERS, 'content-type': entry.type, 'content-length': body.length }
      if (entry.type === HTML) headers['content-security-policy'] = PAGE_CSP
      if (secure) headers['strict-transport-security'] = 'max-age=31536000'
      res.writeHead(200, headers)
      res.end(req.method === 'HEAD' ? undefined : body)
    },
    () => res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`cannot read ${entry.file}\n`),
  )
  return true
}
