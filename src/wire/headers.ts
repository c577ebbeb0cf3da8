import type { Msg, MsgHdrs } from '@nats-io/nats-core'
import { systemError } from '../rpc-error.ts'
import { headerBytesOf } from './nats-internals.ts'

/** Header names of wire protocol v1. */
export const Header = {
  Deadline: 'Rpc-Deadline',
  Id: 'Rpc-Id',
  Instance: 'Rpc-Instance',
  /** On an UNIMPLEMENTED reply: the worker has no such method (its contract is older), so the call did not run. */
  UnknownMethod: 'Rpc-Unknown-Method',
  Authorization: 'Authorization',
  TraceParent: 'traceparent',
  TraceState: 'tracestate',
  ServiceError: 'Nats-Service-Error',
  ServiceErrorCode: 'Nats-Service-Error-Code',
} as const

/** Headers passed to a call: a plain record of single values. */
export type HeaderRecord = Readonly<Record<string, string>>

const NAME = /^[!-9;-~]+$/
const textDecoder = new TextDecoder()

/**
 * Headers already in wire form (`NATS/1.0\r\nKey: value\r\n…\r\n\r\n`). nats.js `publish()` only calls `encode()`
 * on the headers it is given, so this stands in for a MsgHdrs at a fraction of the cost of building one; our own
 * publish() writes `text` into the same Buffer as the protocol line.
 */
export class WireHeaders {
  #bytes: Uint8Array | undefined = undefined
  constructor(readonly text: string) {}
  encode(): Uint8Array {
    return (this.#bytes ??= Buffer.from(this.text))
  }
}

const goodNames = new Set<string>()

function checkHeader(k: string, v: string): void {
  if (!goodNames.has(k)) {
    if (!NAME.test(k)) throw systemError('INVALID_ARGUMENT', `bad header name '${k.slice(0, 64)}'`)
    if (goodNames.size < 1_000) goodNames.add(k)
  }
  if (v.indexOf('\r') !== -1 || v.indexOf('\n') !== -1) throw systemError('INVALID_ARGUMENT', `header ${k}: values cannot contain CR or LF`)
}

/**
 * Request headers: `record` plus, when given, one more header `extraName: extraValue` (which wins), encoded once in
 * wire form. A name that is not a header token or a value with CR/LF is INVALID_ARGUMENT.
 */
export function wireHeaders(record: HeaderRecord, extraName?: string, extraValue?: string): MsgHdrs {
  let s = 'NATS/1.0'
  for (const k in record) {
    if (k === extraName) continue
    const v = record[k]!
    checkHeader(k, v)
    s += `\r\n${k}: ${v}`
  }
  if (extraName !== undefined) {
    checkHeader(extraName, extraValue!)
    s += `\r\n${extraName}: ${extraValue}`
  }
  return new WireHeaders(`${s}\r\n\r\n`) as unknown as MsgHdrs
}

/** Reads nats.js headers into a plain record (first value of each key). */
export function fromMsgHdrs(h: MsgHdrs | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  if (h === undefined) return out
  for (const [k, v] of h) if (v.length > 0) out[k] = v[0]!
  return out
}

/**
 * The headers of a received message as a plain record (first value of each key), parsed straight from the
 * message's header bytes instead of through nats.js's MsgHdrsImpl. Falls back to `msg.headers` when the nats.js
 * internals it reads are not there.
 */
export function readHeaders(msg: Msg): Record<string, string> {
  const bytes = headerBytesOf(msg)
  if (bytes === undefined) return fromMsgHdrs(msg.headers)
  const out: Record<string, string> = {}
  if (bytes.length === 0) return out
  const s = textDecoder.decode(bytes)
  // lines after the status line: `Name: value`; the first value of a name wins
  let end = s.indexOf('\r\n')
  while (end !== -1) {
    const start = end + 2
    end = s.indexOf('\r\n', start)
    const stop = end === -1 ? s.length : end
    const colon = s.indexOf(':', start)
    if (colon <= start || colon >= stop) continue
    const k = nameAt(s, start, colon)
    if (Object.hasOwn(out, k)) continue
    let from = colon + 1
    let to = stop
    while (from < to && isBlank(s.charCodeAt(from))) from++
    while (to > from && isBlank(s.charCodeAt(to - 1))) to--
    out[k] = s.slice(from, to)
  }
  return out
}

/** The protocol's own names, as constants: a name sliced out of the text would be hashed again on every store. */
const KNOWN_NAMES: readonly string[] = Object.values(Header)

function nameAt(s: string, start: number, end: number): string {
  const length = end - start
  for (const name of KNOWN_NAMES) if (name.length === length && s.startsWith(name, start)) return name
  return s.slice(start, end)
}

function isBlank(c: number): boolean {
  return c === 32 || c === 9
}
