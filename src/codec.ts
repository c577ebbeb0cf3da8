import { Decoder, Encoder } from '@msgpack/msgpack'
import { OK } from './codes.ts'

/** The reply envelope of wire protocol v1. */
export type Envelope =
  | { readonly status: typeof OK; readonly result: unknown }
  | { readonly status: string; readonly message: string; readonly data?: unknown }

const encoder = new Encoder({ ignoreUndefined: true })
const decoder = new Decoder()
const EMPTY = new Uint8Array(0)

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
