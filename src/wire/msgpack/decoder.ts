import { Decoder, encode } from '@msgpack/msgpack'

/** The fields of @msgpack/msgpack's Decoder that the string fast path reads (3.x). */
interface DecoderState {
  bytes: Uint8Array
  pos: number
  maxStrLength: number
  keyDecoder: { canBeCached(byteLength: number): boolean; decode(bytes: Uint8Array, offset: number, byteLength: number): string } | null
  stateIsMapKey(): boolean
}

/** What msgpack's Decoder asks of its `keyDecoder` option (KeyCache in msgpack-reader.ts is one). */
export interface KeyDecoder {
  canBeCached(byteLength: number): boolean
  decode(bytes: Uint8Array, offset: number, byteLength: number): string
}

type DecodeUtf8String = (this: DecoderState, byteLength: number, headerOffset: number) => string

const original = (Decoder.prototype as unknown as { decodeUtf8String?: DecodeUtf8String }).decodeUtf8String
const utf8Slice = (Buffer.prototype as unknown as { utf8Slice?: (this: Uint8Array, start: number, end: number) => string }).utf8Slice

/**
 * Reads a string value with Node's native UTF-8 decoder. msgpack's own decoder builds an array of char codes for
 * every string under 200 bytes and joins it with `String.fromCharCode` (~0.1 µs and ~1 KB of garbage per call on
 * the bench's echo body, on each side). Anything unusual (too long, truncated input) goes to msgpack's own method,
 * which raises its own errors. Invalid UTF-8 becomes U+FFFD, as msgpack's own decoder does only above 200 bytes (below,
 * it let invalid bytes through as code units). Map keys of up to 16 bytes go to the decoder's `keyDecoder`: msgpack's
 * own cache reads them as code units too, the codec's `KeyCache` (msgpack-reader.ts) as U+FFFD.
 */
const decodeUtf8String: DecodeUtf8String = function (byteLength, headerOffset) {
  const offset = this.pos + headerOffset
  if (byteLength > this.maxStrLength || this.bytes.byteLength < offset + byteLength) return original!.call(this, byteLength, headerOffset)
  const s =
    this.stateIsMapKey() && this.keyDecoder?.canBeCached(byteLength) === true
      ? this.keyDecoder!.decode(this.bytes, offset, byteLength)
      : utf8Slice!.call(this.bytes, offset, offset + byteLength)
  this.pos = offset + byteLength
  return s
}

const SAMPLE = { ascii: 'hello', accents: 'héllo wörld', cjk: '你好', emoji: ['👋', ''], nested: { ключ: 'значение' } }

/**
 * A msgpack Decoder whose string values are read by Node's native UTF-8 decoder. A plain Decoder when this msgpack
 * or Node build lacks what the fast path reads, or when the fast path would decode a sample differently.
 */
export function createDecoder(keyDecoder?: KeyDecoder): Decoder {
  const plain = new Decoder(keyDecoder === undefined ? undefined : { keyDecoder })
  if (typeof original !== 'function' || typeof utf8Slice !== 'function') return plain
  const fast = new Decoder(keyDecoder === undefined ? undefined : { keyDecoder })
  Object.defineProperty(fast, 'decodeUtf8String', { value: decodeUtf8String })
  try {
    const sample = encode(SAMPLE)
    return JSON.stringify(fast.decode(sample)) === JSON.stringify(plain.decode(sample)) ? fast : plain
  } catch {
    return plain
  }
}
