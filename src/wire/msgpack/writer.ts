import { Encoder } from '@msgpack/msgpack'

/** Scratch size at start; a scratch grown past SHRINK_ABOVE by one large body is dropped after it. */
const INITIAL_SCRATCH = 4096
const SHRINK_ABOVE = 1024 * 1024
/** Deeper values go to msgpack's own Encoder (its recursion stops at 100 levels with its own error). */
const MAX_FAST_DEPTH = 64
/** Strings of fewer chars are first tried as ASCII, written byte by byte (a native call costs more). */
const ASCII_LOOP_MAX = 64

/** Binary lengths from here on need more than msgpack's 32-bit length field (msgpack's Encoder throws). */
const MAX_BIN = 0x1_0000_0000

/**
 * A msgpack encoder for the values bodies are made of: plain objects, arrays, strings, numbers, booleans, null and
 * Uint8Array. It writes the same bytes as @msgpack/msgpack's `Encoder({ ignoreUndefined: true })` (test/unit/msgpack-
 * writer.test.ts compares them), in a little over half its time on the bench's echo body. Anything else (Date and
 * other extensions, Map, class instances, other typed arrays, bigint, over MAX_FAST_DEPTH levels) goes to msgpack's
 * own Encoder, whole: a value that holds such a thing deep inside is walked twice, and its getters run again.
 * One difference: here a lone UTF-16 surrogate becomes U+FFFD (msgpack's own encoder, and so the fallback, writes it
 * as a 3-byte sequence in strings of up to 50 chars, which the reader turns into three U+FFFD).
 */
export class MsgpackWriter {
  readonly #fallback = new Encoder({ ignoreUndefined: true })
  #buf = Buffer.allocUnsafeSlow(INITIAL_SCRATCH)
  #view = new DataView(this.#buf.buffer, this.#buf.byteOffset, this.#buf.length)
  #pos = 0
  #entered = false

  /**
   * `head` (bytes written as they are) then `value` encoded, copied out into a Buffer of their length (from Node's
   * pool when small). Throws what msgpack's Encoder throws for a value it cannot encode.
   */
  encode(value: unknown, head?: Uint8Array): Buffer {
    if (!this.#entered) {
      // a getter of the value may encode something else meanwhile: that one takes the fallback
      this.#entered = true
      try {
        this.#pos = 0
        if (head !== undefined) this.#bytes(head)
        if (this.#value(value, 0)) {
          const out = Buffer.allocUnsafe(this.#pos)
          this.#buf.copy(out, 0, 0, this.#pos)
          return out
        }
      } finally {
        this.#entered = false
        if (this.#buf.length > SHRINK_ABOVE) this.#alloc(INITIAL_SCRATCH)
      }
    }
    const body = this.#fallback.encodeSharedRef(value)
    if (head === undefined) return Buffer.from(body)
    const out = Buffer.allocUnsafe(head.length + body.length)
    out.set(head, 0)
    out.set(body, head.length)
    return out
  }

  /** Writes one value; false when it is not of the kinds this writer handles (the caller then falls back). */
  #value(v: unknown, depth: number): boolean {
    switch (typeof v) {
      case 'string':
        this.#string(v)
        return true
      case 'number':
        this.#number(v)
        return true
      case 'boolean':
        this.#byte(v ? 0xc3 : 0xc2)
        return true
      case 'undefined':
        this.#byte(0xc0)
        return true
      case 'object':
        if (v === null) {
          this.#byte(0xc0)
          return true
        }
        if (depth >= MAX_FAST_DEPTH) return false
        if (Array.isArray(v)) return Object.getPrototypeOf(v) === Array.prototype && this.#array(v, depth)
        if (ArrayBuffer.isView(v)) {
          if (!(v instanceof Uint8Array) || v.length >= MAX_BIN) return false
          this.#header(v.length, 0xc4, 0xc5, 0xc6)
          this.#bytes(v)
          return true
        }
        {
          const proto = Object.getPrototypeOf(v)
          return (proto === Object.prototype || proto === null) && this.#map(v as Record<string, unknown>, depth)
        }
      default:
        return false
    }
  }

  #array(a: unknown[], depth: number): boolean {
    const n = a.length
    if (n < 16) this.#byte(0x90 + n)
    else this.#header(n, -1, 0xdc, 0xdd)
    for (let i = 0; i < n; i++) if (!this.#value(a[i], depth + 1)) return false
    return true
  }

  #map(o: Record<string, unknown>, depth: number): boolean {
    const keys = Object.keys(o)
    let n = 0
    for (let i = 0; i < keys.length; i++) if (o[keys[i]!] !== undefined) n++
    if (n < 16) this.#byte(0x80 + n)
    else this.#header(n, -1, 0xde, 0xdf)
    for (let i = 0; i < keys.length; i++) {
      const value = o[keys[i]!]
      if (value === undefined) continue
      this.#string(keys[i]!)
      if (!this.#value(value, depth + 1)) return false
    }
    return true
  }

  #string(s: string): void {
    const n = s.length
    if (n < ASCII_LOOP_MAX) {
      const start = this.#pos + (n < 32 ? 1 : 2)
      this.#ensure(2 + n)
      const buf = this.#buf
      let i = 0
      for (; i < n; i++) {
        const c = s.charCodeAt(i)
        if (c >= 0x80) break
        buf[start + i] = c
      }
      if (i === n) {
        if (n < 32) buf[this.#pos] = 0xa0 + n
        else {
          buf[this.#pos] = 0xd9
          buf[this.#pos + 1] = n
        }
        this.#pos = start + n
        return
      }
    }
    const size = Buffer.byteLength(s, 'utf8')
    if (size < 32) this.#byte(0xa0 + size)
    else this.#header(size, 0xd9, 0xda, 0xdb)
    this.#ensure(size)
    this.#pos += this.#buf.write(s, this.#pos, size, 'utf8')
  }

  #number(v: number): void {
    if (Number.isSafeInteger(v)) {
      if (v >= 0) {
        if (v < 0x80) return this.#byte(v)
        if (v < 0x100000000) return this.#header(v, 0xcc, 0xcd, 0xce)
        this.#byte(0xcf)
        return this.#int64(v)
      }
      if (v >= -0x20) return this.#byte(0xe0 | (v + 0x20))
      this.#ensure(9)
      const view = this.#view
      if (v >= -0x80) {
        this.#buf[this.#pos++] = 0xd0
        view.setInt8(this.#pos++, v)
      } else if (v >= -0x8000) {
        this.#buf[this.#pos++] = 0xd1
        view.setInt16(this.#pos, v)
        this.#pos += 2
      } else if (v >= -0x80000000) {
        this.#buf[this.#pos++] = 0xd2
        view.setInt32(this.#pos, v)
        this.#pos += 4
      } else {
        this.#buf[this.#pos++] = 0xd3
        this.#int64(v)
      }
      return
    }
    this.#ensure(9)
    this.#buf[this.#pos++] = 0xcb
    this.#view.setFloat64(this.#pos, v)
    this.#pos += 8
  }

  /** A 64-bit integer as msgpack's setUint64/setInt64 write it: the high word, then the low 32 bits. */
  #int64(v: number): void {
    this.#ensure(8)
    this.#view.setUint32(this.#pos, Math.floor(v / 0x1_0000_0000))
    this.#view.setUint32(this.#pos + 4, v >>> 0)
    this.#pos += 8
  }

  /**
   * A type byte and a length or unsigned value of 1, 2 or 4 bytes: `u8` under 0x100 (unless `u8` is negative: no
   * such width), `u16` under 0x10000, else `u32`. Every value passed is below 2^32: V8's strings and arrays cannot
   * reach it, and longer binaries take the fallback.
   */
  #header(n: number, u8: number, u16: number, u32: number): void {
    this.#ensure(5)
    const buf = this.#buf
    if (n < 0x100 && u8 >= 0) {
      buf[this.#pos] = u8
      buf[this.#pos + 1] = n
      this.#pos += 2
    } else if (n < 0x10000) {
      buf[this.#pos] = u16
      buf[this.#pos + 1] = n >>> 8
      buf[this.#pos + 2] = n & 0xff
      this.#pos += 3
    } else {
      buf[this.#pos] = u32
      this.#view.setUint32(this.#pos + 1, n)
      this.#pos += 5
    }
  }

  #byte(b: number): void {
    this.#ensure(1)
    this.#buf[this.#pos++] = b
  }

  #bytes(b: Uint8Array): void {
    this.#ensure(b.length)
    this.#buf.set(b, this.#pos)
    this.#pos += b.length
  }

  #ensure(n: number): void {
    if (this.#pos + n > this.#buf.length) {
      const old = this.#buf
      this.#alloc(Math.max(old.length * 2, this.#pos + n))
      old.copy(this.#buf, 0, 0, this.#pos)
    }
  }

  #alloc(size: number): void {
    this.#buf = Buffer.allocUnsafeSlow(size)
    this.#view = new DataView(this.#buf.buffer, this.#buf.byteOffset, this.#buf.length)
  }
}
