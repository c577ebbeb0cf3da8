/**
 * The one module that reads nats.js internals. Every field it touches is typed by `@nats-io/nats-core/internal`, so
 * an upgrade that renames or drops one fails `tsc` here instead of silently losing a fast path. Each accessor
 * answers `undefined` (and its caller takes the public, slower way) when the object is not nats.js's own class: a
 * connection or message made by another copy of nats-core, or a test double.
 */
import { MsgHdrsImpl, MsgImpl, NatsConnectionImpl, type ProtocolHandler } from '@nats-io/nats-core/internal'
import type { Msg, MsgHdrs, NatsConnection } from '@nats-io/nats-core'

/** What the publish fast path reads and writes of the connection's protocol handler. */
export type Protocol = Pick<ProtocolHandler, 'info' | 'noMorePublishing' | 'outBytes' | 'outMsgs' | 'sendCommand' | 'connected'>

/** The connection's protocol handler (`nc.protocol`), when `nc` is nats.js's own connection. */
export function protocolOf(nc: NatsConnection): Protocol | undefined {
  return nc instanceof NatsConnectionImpl ? nc.protocol : undefined
}

/** Whether the transport is connected now (nats.js's own flag); true when it cannot be read. */
export function transportUp(nc: NatsConnection): boolean {
  return protocolOf(nc)?.connected ?? true
}

/** The `inboxPrefix` the connection was opened with. */
export function inboxPrefixOf(nc: NatsConnection): string | undefined {
  return nc instanceof NatsConnectionImpl ? nc.options.inboxPrefix : undefined
}

/** The subject of a received message as the bytes the parser read (no string decoded), when it is nats.js's own. */
export function subjectBytesOf(msg: Msg): Uint8Array | undefined {
  return msg instanceof MsgImpl ? msg._msg.subject : undefined
}

/** The raw header block of a received message (`length` 0: none), when it is nats.js's own. */
export function headerBytesOf(msg: Msg): Uint8Array | undefined {
  if (!(msg instanceof MsgImpl)) return undefined
  const hdr = msg._msg.hdr
  return hdr > 0 ? msg._rdata.subarray(0, hdr) : EMPTY
}

/** The wire form of nats.js's own headers (`MsgHdrsImpl.encode()`); null for headers of any other class. */
export function encodedHeadersOf(headers: MsgHdrs): Uint8Array | null {
  return headers instanceof MsgHdrsImpl ? headers.encode() : null
}

const EMPTY = new Uint8Array(0)
