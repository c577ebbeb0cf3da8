import { Decoder, Encoder } from '@msgpack/msgpack'
import type { Msg, MsgHdrs } from '@nats-io/nats-core'
import { OK } from './codes.ts'

/** The reply envelope of wire protocol v1. */
export type Envelope =
  | { readonly status: typeof OK; readonly result: unknown }
  | { readonly status: string; readonly message: string; readonly data?: unknown }

const encoder = new Encoder({ ignoreUndefined: true })
const decoder = new Decoder()
const EMPTY = new Uint8Array(0)
const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder()

/** msgpack-encodes a body; `undefined` is the empty body. Returns a fresh copy that is safe to hand to nats.js. */
export function encodeBody(value: unknown): Uint8Array {
  return value === undefined ? EMPTY : encoder.encode(value)
}

/** Decodes a msgpack body; the empty body is `undefined`. Throws on malformed input. */
export function decodeBody(bytes: Uint8Array): unknown {
  return bytes.length === 0 ? undefined : decoder.decode(bytes)
}

/** Encodes a successful reply. */
export function encodeOk(result: unknown): Uint8Array {
  return encoder.encode({ status: OK, result })
}

/** Encodes an error reply. */
export function encodeFailure(status: string, message: string, data?: unknown): Uint8Array {
  return encoder.encode(data === undefined ? { status, message } : { status, message, data })
}

/** Decodes a reply envelope, or returns `undefined` when the bytes are not one. */
export function decodeEnvelope(bytes: Uint8Array): Envelope | undefined {
  let v: unknown
  try {
    v = decoder.decode(bytes)
  } catch {
    return undefined
  }
  if (typeof v !== 'object' || v === null) return undefined
  const e = v as { status?: unknown; message?: unknown }
  if (typeof e.status !== 'string') return undefined
  if (e.status !== OK && typeof e.message !== 'string') return undefined
  return v as Envelope
}

/**
 * NATS headers already in wire form (`NATS/1.0\r\nKey: value\r\n…\r\n\r\n`). nats.js `publish()` only calls
 * `encode()` on the headers it is given, so this stands in for a MsgHdrs on the publish path at a fraction
 * of the cost of building and encoding a MsgHdrs (no key canonicalisation, no per-key arrays, one shared
 * TextEncoder). Made by wireHeadersOf(); Caller.request() accepts it in place of a MsgHdrs.
 */
export class WireHeaders {
  readonly #bytes: Uint8Array
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes
  }
  encode(): Uint8Array {
    return this.#bytes
  }
  /** As MsgHdrs, for the nats.js publish() signature. */
  asMsgHdrs(): MsgHdrs {
    return this as unknown as MsgHdrs
  }
}

/** Wire-form headers from plain records (later records win), without building a MsgHdrs. */
export function wireHeadersOf(...records: (Readonly<Record<string, string>> | undefined)[]): WireHeaders {
  const merged: Record<string, string> = {}
  for (const r of records) if (r !== undefined) for (const k in r) merged[k] = r[k]!
  let s = 'NATS/1.0'
  for (const k in merged) {
    const v = merged[k]!
    if (/[\r\n]/.test(v)) throw new TypeError(`header ${k}: values cannot contain \\r or \\n`)
    s += `\r\n${k}: ${v.trim()}`
  }
  return new WireHeaders(textEncoder.encode(`${s}\r\n\r\n`))
}

/**
 * The headers of a received message as a plain record (first value of each key), parsed straight from the
 * message's header bytes instead of through MsgHdrsImpl.decode() + fromMsgHdrs(). Falls back to `msg.headers`
 * when the nats.js internals it reads are not there.
 */
export function headersOf(msg: Msg): Record<string, string> {
  const m = msg as Msg & { _msg?: { hdr?: number }; _rdata?: Uint8Array }
  const hdr = m._msg?.hdr
  if (hdr === undefined || m._rdata === undefined) return fromHdrs(msg.headers)
  if (hdr < 0) return {}
  const raw = m._rdata.subarray(0, hdr)
  const out: Record<string, string> = {}
  const s = raw.length <= 4096 && isAscii(raw) ? String.fromCharCode.apply(null, raw as unknown as number[]) : textDecoder.decode(raw)
  let at = s.indexOf('\r\n')
  while (at !== -1 && at + 2 < s.length) {
    const end = s.indexOf('\r\n', at + 2)
    const line = s.slice(at + 2, end === -1 ? s.length : end)
    const colon = line.indexOf(':')
    if (colon > 0) {
      const k = line.slice(0, colon)
      if (out[k] === undefined) out[k] = line.slice(colon + 1).trim()
    }
    at = end
  }
  return out
}

function isAscii(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i]! > 0x7f) return false
  return true
}

function fromHdrs(h: MsgHdrs | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  if (h !== undefined) for (const [k, v] of h) if (v.length > 0) out[k] = v[0]!
  return out
}
