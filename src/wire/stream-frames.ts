import type { Msg, MsgHdrs } from '@nats-io/nats-core'
import { WireHeaders, wireHeaders, type HeaderRecord } from './headers.ts'
import { isInstanceId } from './subjects.ts'

/**
 * Header names of streams (protocol §10). Kept out of `Header`, whose names readHeaders matches on every unary call.
 */
export const StreamHeader = {
  /** On an open request: the stream protocol version, `1`. Marks the request as the open of a stream. */
  Stream: 'Rpc-Stream',
  /** On an open request: the heartbeat interval the caller asks for, in ms. */
  Heartbeat: 'Rpc-Heartbeat',
  /** On every frame and control message: its kind (`Frame`, `Control`). */
  Frame: 'Rpc-Frame',
  /** On every frame: how many items the worker sent before this frame. */
  Seq: 'Rpc-Seq',
  /** On the open frame: the subject the caller sends its pulls and its cancel to. */
  Control: 'Rpc-Control',
  /** On a pull: how many items the worker may send in its answer. */
  Credit: 'Rpc-Credit',
} as const

/** The version of the stream protocol this code speaks, as `Rpc-Stream` carries it. */
export const STREAM_VERSION = '1'

/** What a worker sends a caller; each frame answers one caller message (the open request or one pull). */
export const Frame = { open: 'open', items: 'items', beat: 'beat', end: 'end' } as const
export type Frame = (typeof Frame)[keyof typeof Frame]

/** What a caller sends a worker, on the stream's control subject. */
export const Control = { pull: 'pull', cancel: 'cancel' } as const
export type Control = (typeof Control)[keyof typeof Control]

/** The heartbeat when the open request names none, and the range a worker holds a requested one to, in ms. */
export const DEFAULT_HEARTBEAT_MS = 1_000
export const MIN_HEARTBEAT_MS = 25
export const MAX_HEARTBEAT_MS = 60_000
/** Heartbeats of silence after which either side takes the other for gone. */
export const MISSED_BEATS = 3

/**
 * Bytes of a frame that are not its items, at most: the header block of an `items` frame (with a sequence number
 * of up to 16 digits) and a msgpack array32 head. A frame is sent only when this plus its items fit in max_payload.
 */
export const FRAME_OVERHEAD = 64

/** The token of control subjects: `<prefix>.<service>.$stream.<worker>.<streamId>`. */
export const STREAM_TOKEN = '$stream'

/** The subject a worker's control subscription covers, with `.*` appended: one stream id per stream. */
export function controlBase(prefix: string, service: string, worker: string): string {
  return `${prefix}.${service}.${STREAM_TOKEN}.${worker}`
}

/** Whether `subject` may be a control subject of `<prefix>.<service>`: one the caller may send pulls to. */
export function isControlSubject(subject: string, prefix: string, service: string): boolean {
  const base = `${prefix}.${service}.${STREAM_TOKEN}.`
  if (!subject.startsWith(base) || subject.length > 512) return false
  const rest = subject.slice(base.length).split('.')
  return rest.length === 2 && rest.every(isInstanceId)
}

const DECIMAL = /^(0|[1-9][0-9]{0,15})$/

/** A header value of digits only (no sign, exponent or fraction), as a number; undefined when it is not one. */
export function decimalOf(raw: string | undefined): number | undefined {
  if (raw === undefined || !DECIMAL.test(raw)) return undefined
  const n = Number(raw)
  return Number.isSafeInteger(n) ? n : undefined
}

/** The headers of a frame: its kind, its sequence number and `extra` headers (the open frame's control subject). */
export function frameHeaders(kind: Frame, seq: number, extra?: HeaderRecord): MsgHdrs {
  if (extra === undefined) return new WireHeaders(`NATS/1.0\r\n${StreamHeader.Frame}: ${kind}\r\n${StreamHeader.Seq}: ${seq}\r\n\r\n`) as unknown as MsgHdrs
  return wireHeaders({ [StreamHeader.Frame]: kind, [StreamHeader.Seq]: String(seq), ...extra })
}

/** The headers of a pull of `credit` items. */
export function pullHeaders(credit: number): MsgHdrs {
  return new WireHeaders(`NATS/1.0\r\n${StreamHeader.Frame}: ${Control.pull}\r\n${StreamHeader.Credit}: ${credit}\r\n\r\n`) as unknown as MsgHdrs
}

/** The headers of a cancel. */
export const CANCEL_HEADERS = new WireHeaders(`NATS/1.0\r\n${StreamHeader.Frame}: ${Control.cancel}\r\n\r\n`) as unknown as MsgHdrs

/**
 * The body of an `items` frame: a msgpack array whose elements are the already encoded `items`, `bytes` long in all.
 */
export function itemsBody(items: readonly Uint8Array[], bytes: number): Uint8Array {
  const n = items.length
  const head = n < 16 ? Buffer.from([0x90 | n]) : n < 0x10000 ? Buffer.from([0xdc, n >> 8, n & 0xff]) : Buffer.alloc(5, 0xdd)
  if (n >= 0x10000) head.writeUInt32BE(n, 1)
  return Buffer.concat([head, ...items], head.length + bytes)
}

/** The server's no-responders status (503) on a message, read without letting a malformed header throw. */
export function isNoResponders(msg: Msg): boolean {
  try {
    return msg.data.length === 0 && msg.headers?.code === 503
  } catch {
    return false
  }
}
