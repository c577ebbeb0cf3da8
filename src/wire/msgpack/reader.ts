import type { Decoder } from '@msgpack/msgpack'

/** Deeper input goes to msgpack's own Decoder, which does not recurse (unless a reader is given a lower limit). */
const MAX_FAST_DEPTH = 64
/** Map keys of up to this many bytes are kept, per length, so a key read again is the same string. */
const MAX_CACHED_KEY = 16
const KEYS_PER_LENGTH = 16

const utf8Slice = (Buffer.prototype as unknown as { utf8Slice?: (this: Uint8Array, start: number, end: number) => string }).utf8Slice
const utf8ToString =
  utf8Slice ??
  function (this: Uint8Array, start: number, end: number) {
    return Buffer.from(this.buffer, this.byteOffset, this.byteLength).toString('utf8', start, end)
  }

/** Thrown inside the reader when the input needs msgpack's own Decoder; never escapes. */
const FALLBACK = new Error('msgpack fallback')

interface CachedKey {
  readonly bytes: Uint8Array
  readonly key: string
}

/**
 * Short map keys read before, by byte length: reading one again returns the kept string and allocates nothing.
 * Also msgpack's own Decoder's `keyDecoder`, so both read keys alike (invalid UTF-8 becomes U+FFFD).
 */
export class KeyCache {
  readonly #byLength: CachedKey[][] = Array.from({ length: MAX_CACHED_KEY + 1 }, () => [])

  canBeCached(byteLength: number): boolean {
    return byteLength > 0 && byteLength <= MAX_CACHED_KEY
  }

  decode(bytes: Uint8Array, offset: number, byteLength: number): string {
    const list = this.#byLength[byteLength]!
    next: for (let i = 0; i < list.length; i++) {
      const k = list[i]!.bytes
      for (let j = 0; j < byteLength; j++) if (k[j] !== bytes[offset + j]) continue next
      return list[i]!.key
    }
    const key = utf8ToString.call(bytes, offset, offset + byteLength)
    const entry = { bytes: Uint8Array.prototype.slice.call(bytes, offset, offset + byteLength), key }
    if (list.length < KEYS_PER_LENGTH) list.push(entry)
    else list[(Math.random() * KEYS_PER_LENGTH) | 0] = entry
    return key
  }
}

/**
 * A msgpack decoder for well-formed bodies without extensions: it returns what its fallback, @msgpack/msgpack's
 * Decoder as `createDecoder` sets it up (strings by Node's UTF-8 decoder, keys through a `KeyCache`), returns for
 * them (test/unit/msgpack-reader.test.ts compares both), in about 40 % of its time on the bench's echo body and
 * without a DataView per call. Anything else (extension types such as timestamps, non-string map keys,
 * `__proto__` keys, truncated input, trailing bytes, unknown type bytes, containers nested `maxDepth` levels deep)
 * is decoded again by `fallback`, which returns or throws what it does. Strings are read by Node's UTF-8 decoder.
 */
export class MsgpackReader {
  readonly #fallback: Decoder
  readonly #maxDepth: number
  readonly #keys: KeyCache
  readonly #f = new DataView(new ArrayBuffer(8))
  #b: Uint8Array = new Uint8Array(0)
  #p = 0

  /** `maxDepth`: the levels of nested maps and arrays the fast path reads (at most MAX_FAST_DEPTH). */
  constructor(fallback: Decoder, keys: KeyCache, maxDepth = MAX_FAST_DEPTH) {
    this.#fallback = fallback
    this.#maxDepth = Math.min(maxDepth, MAX_FAST_DEPTH)
    this.#keys = keys
  }

  /**
   * The value of `bytes` from `start` to the end. A value read by the fast path nests at most `maxDepth` levels;
   * `checkFallback` (which may throw) sees only the values the fallback read.
   */
  decode(bytes: Uint8Array, start = 0, checkFallback?: (value: unknown) => void): unknown {
    this.#b = bytes
    this.#p = start
    try {
      const v = this.#value(0)
      if (this.#p === bytes.length) return v
    } catch (err) {
      if (err !== FALLBACK) throw err
    } finally {
      this.#b = EMPTY
    }
    const value = this.#fallback.decode(start === 0 ? bytes : bytes.subarray(start))
    checkFallback?.(value)
    return value
  }

  #value(depth: number): unknown {
    const b = this.#b
    if (this.#p >= b.length) throw FALLBACK
    const h = b[this.#p++]!
    if (h < 0x80) return h
    if (h >= 0xe0) return h - 0x100
    if (h >= 0xa0 && h < 0xc0) return this.#string(h - 0xa0)
    if (h < 0x90) return this.#map(h - 0x80, depth)
    if (h < 0xa0) return this.#array(h - 0x90, depth)
    switch (h) {
      case 0xc0:
        return null
      case 0xc2:
        return false
      case 0xc3:
        return true
      case 0xc4:
        return this.#binary(this.#uint(1))
      case 0xc5:
        return this.#binary(this.#uint(2))
      case 0xc6:
        return this.#binary(this.#uint(4))
      case 0xca:
        return this.#float(4)
      case 0xcb:
        return this.#float(8)
      case 0xcc:
        return this.#uint(1)
      case 0xcd:
        return this.#uint(2)
      case 0xce:
        return this.#uint(4)
      case 0xcf:
        return this.#uint(4) * 0x1_0000_0000 + this.#uint(4)
      case 0xd0:
        return (this.#uint(1) << 24) >> 24
      case 0xd1:
        return (this.#uint(2) << 16) >> 16
      case 0xd2:
        return this.#uint(4) | 0
      case 0xd3:
        return (this.#uint(4) | 0) * 0x1_0000_0000 + this.#uint(4)
      case 0xd9:
        return this.#string(this.#uint(1))
      case 0xda:
        return this.#string(this.#uint(2))
      case 0xdb:
        return this.#string(this.#uint(4))
      case 0xdc:
        return this.#array(this.#uint(2), depth)
      case 0xdd:
        return this.#array(this.#uint(4), depth)
      case 0xde:
        return this.#map(this.#uint(2), depth)
      case 0xdf:
        return this.#map(this.#uint(4), depth)
      default:
        throw FALLBACK // extensions (0xc7-0xc9, 0xd4-0xd8) and the unused 0xc1
    }
  }

  /** A big-endian unsigned integer of 1, 2 or 4 bytes. */
  #uint(size: 1 | 2 | 4): number {
    const b = this.#b
    const p = this.#p
    if (p + size > b.length) throw FALLBACK
    this.#p = p + size
    if (size === 1) return b[p]!
    if (size === 2) return (b[p]! << 8) | b[p + 1]!
    return b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!)
  }

  #float(size: 4 | 8): number {
    const b = this.#b
    const p = this.#p
    if (p + size > b.length) throw FALLBACK
    this.#p = p + size
    const f = this.#f
    for (let i = 0; i < size; i++) f.setUint8(i, b[p + i]!)
    return size === 4 ? f.getFloat32(0) : f.getFloat64(0)
  }

  #string(n: number): string {
    const p = this.#p
    if (p + n > this.#b.length) throw FALLBACK
    this.#p = p + n
    return utf8ToString.call(this.#b, p, p + n)
  }

  #binary(n: number): Uint8Array {
    const p = this.#p
    if (p + n > this.#b.length) throw FALLBACK
    this.#p = p + n
    return this.#b.subarray(p, p + n)
  }

  #array(n: number, depth: number): unknown[] {
    if (depth >= this.#maxDepth || n > this.#b.length - this.#p) throw FALLBACK
    const a = new Array<unknown>(n)
    for (let i = 0; i < n; i++) a[i] = this.#value(depth + 1)
    return a
  }

  #map(n: number, depth: number): Record<string, unknown> {
    if (depth >= this.#maxDepth || n * 2 > this.#b.length - this.#p) throw FALLBACK
    const o: Record<string, unknown> = {}
    for (let i = 0; i < n; i++) {
      const key = this.#key()
      o[key] = this.#value(depth + 1)
    }
    return o
  }

  /** A string map key, other than `__proto__` (msgpack's own Decoder refuses that one, and number keys it reads). */
  #key(): string {
    const b = this.#b
    if (this.#p >= b.length) throw FALLBACK
    const h = b[this.#p++]!
    const n = h >= 0xa0 && h < 0xc0 ? h - 0xa0 : h === 0xd9 ? this.#uint(1) : h === 0xda ? this.#uint(2) : h === 0xdb ? this.#uint(4) : -1
    if (n < 0) throw FALLBACK
    const p = this.#p
    if (p + n > b.length) throw FALLBACK
    this.#p = p + n
    const key = this.#keys.canBeCached(n) ? this.#keys.decode(b, p, n) : utf8ToString.call(b, p, p + n)
    if (key === '__proto__') throw FALLBACK
    return key
  }
}

const EMPTY = new Uint8Array(0)
