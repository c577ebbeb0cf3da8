import { ExtData } from '@msgpack/msgpack'
import { OK } from '../codes.ts'
import { createDecoder } from './msgpack/decoder.ts'
import { KeyCache, MsgpackReader } from './msgpack/reader.ts'
import { MsgpackWriter } from './msgpack/writer.ts'

/** The reply envelope of wire protocol v1. */
export type Envelope = { readonly status: typeof OK; readonly result: unknown } | { readonly status: string; readonly message: string; readonly data?: unknown }

/** An error as a worker sends it: code, number, message and data (the envelope's fields and the ADR-32 headers). */
export interface Failure {
  readonly code: string
  readonly status: number
  readonly message: string
  readonly data?: unknown
}

/** How deep a decoded body may nest: replies add a level and the encoder stops at 100. */
export const MAX_DEPTH = 64

const writer = new MsgpackWriter()
const keys = new KeyCache()
/** Its fast path reads at most MAX_DEPTH levels and no extensions, so only what its fallback reads needs `checkBody`. */
const decoder = new MsgpackReader(createDecoder(keys), keys, MAX_DEPTH)
const EMPTY = new Uint8Array(0)
/** `{ status: 'OK', result: ` of a two-entry msgpack map, written once; the encoded result follows. */
const OK_HEAD = Uint8Array.prototype.slice.call(writer.encode({ status: OK, result: null }), 0, -1)

/**
 * msgpack-encodes a body; `undefined` is the empty body. Returns a copy that is safe to hand to nats.js: a Node
 * `Buffer` (a `Uint8Array`) that may sit in Node's shared pool, so its `.buffer` is larger than the body (a fresh
 * `Uint8Array` of a few dozen bytes costs ~0.25 µs for its own ArrayBuffer, ten times the copy).
 */
export function encodeBody(value: unknown): Uint8Array {
  return value === undefined ? EMPTY : writer.encode(value)
}

/**
 * Decodes a msgpack body; the empty body is `undefined`. Throws on malformed input, past MAX_DEPTH levels, and on
 * extension types other than the timestamp (which reads as a Date): msgpack hands those over as `ExtData` objects,
 * which an object schema would otherwise take for input.
 */
export function decodeBody(bytes: Uint8Array): unknown {
  return bytes.length === 0 ? undefined : decoder.decode(bytes, 0, checkBody)
}

function checkBody(value: unknown): void {
  const refused = typeof value === 'object' && value !== null ? refusal(value, MAX_DEPTH) : undefined
  if (refused !== undefined) throw new RangeError(refused)
}

/** Why a decoded value is refused (nested past `budget` more levels, or an unknown extension), if it is. */
function refusal(value: object, budget: number): string | undefined {
  if (value instanceof ExtData) return `msgpack extension type ${value.type} is not supported`
  if (budget === 0) return `nested deeper than ${MAX_DEPTH} levels`
  if (ArrayBuffer.isView(value)) return undefined
  for (const v of Array.isArray(value) ? value : Object.values(value)) {
    const refused = typeof v === 'object' && v !== null ? refusal(v, budget - 1) : undefined
    if (refused !== undefined) return refused
  }
  return undefined
}

/** Encodes a successful reply. */
export function encodeOk(result: unknown): Uint8Array {
  return result === undefined ? writer.encode({ status: OK }) : writer.encode(result, OK_HEAD)
}

/** Encodes an error reply. */
export function encodeFailure(status: string, message: string, data?: unknown): Uint8Array {
  return writer.encode(data === undefined ? { status, message } : { status, message, data })
}

/** What decodeOkResult returns when the bytes are not an OK envelope written by encodeOk. */
export const NOT_OK: unique symbol = Symbol('not an OK envelope')

/**
 * The result of an OK reply written by encodeOk (its constant prefix, then the result), decoded without building
 * the envelope object; NOT_OK for anything else (errors, other encoders' key order), which decodeEnvelope reads.
 */
export function decodeOkResult(bytes: Uint8Array): unknown {
  const n = OK_HEAD.length
  if (bytes.length <= n) return NOT_OK
  for (let i = 0; i < n; i++) if (bytes[i] !== OK_HEAD[i]) return NOT_OK
  try {
    return decoder.decode(bytes, n)
  } catch {
    return NOT_OK
  }
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
