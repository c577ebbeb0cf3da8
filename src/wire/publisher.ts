import type { MsgHdrs, NatsConnection } from '@nats-io/nats-core'
import { WireHeaders } from './headers.ts'
import { encodedHeadersOf, protocolOf } from './nats-internals.ts'

const CRLF = Buffer.from('\r\n')

/**
 * Publishes `body` to `subject`, with a reply subject (`''` for none) and headers: the bytes and the errors of
 * `nc.publish()`, without its two per-message costs on the RPC hot path. nats.js encodes each protocol line with a
 * TextEncoder (a fresh ArrayBuffer, ~0.3 µs) and tests both subjects with a regex; here the line is written into
 * Node's Buffer pool and the subjects are checked by a loop. Whatever is out of the ordinary (closed or draining
 * connection, over max_payload, a bad subject, no server info yet, headers that are not ours or nats.js's, nats.js
 * internals not where this expects them) goes through `nc.publish()` itself, so it behaves, and throws, as nats.js does.
 */
export function publish(nc: NatsConnection, subject: string, reply: string, headers: MsgHdrs | undefined, body: Uint8Array): void {
  const p = protocolOf(nc)
  const text = headers instanceof WireHeaders ? headers.text : undefined
  const hdr = headers === undefined || text !== undefined ? undefined : encodedHeadersOf(headers)
  const hlen = text !== undefined ? Buffer.byteLength(text) : (hdr?.length ?? 0)
  const len = body.length + hlen
  const info = p?.info
  if (
    p === undefined ||
    info === undefined ||
    hdr === null ||
    p.noMorePublishing ||
    nc.isClosed() ||
    len > info.max_payload ||
    (headers !== undefined && info.headers === false) ||
    !plainSubject(subject) ||
    (reply !== '' && !plainSubject(reply))
  ) {
    nc.publish(subject, body, reply === '' ? { headers } : { reply, headers })
    return
  }
  p.outBytes += len
  p.outMsgs++
  const target = reply === '' ? subject : `${subject} ${reply}`
  if (headers === undefined) p.sendCommand(Buffer.from(`PUB ${target} ${len}\r\n`), body, CRLF)
  // our own headers share one Buffer with the protocol line
  else if (text !== undefined) p.sendCommand(Buffer.from(`HPUB ${target} ${hlen} ${len}\r\n${text}`), body, CRLF)
  else p.sendCommand(Buffer.from(`HPUB ${target} ${hlen} ${len}\r\n`), hdr!, body, CRLF)
}

/** The length of a header block on the wire: ours, or nats.js's own (0 for none or any other kind). */
export function headersLength(headers: MsgHdrs | undefined): number {
  if (headers === undefined) return 0
  if (headers instanceof WireHeaders) return Buffer.byteLength(headers.text)
  return encodedHeadersOf(headers)?.length ?? 0
}

/** Non-empty and free of the whitespace nats.js refuses in a subject (space, tab, CR, LF). */
function plainSubject(s: string): boolean {
  if (s.length === 0) return false
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 32 || c === 9 || c === 10 || c === 13) return false
  }
  return true
}
