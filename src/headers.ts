import { headers as natsHeaders, type MsgHdrs } from '@nats-io/nats-core'

/** Header names of wire protocol v1. */
export const Header = {
  Deadline: 'Rpc-Deadline',
  Id: 'Rpc-Id',
  Authorization: 'Authorization',
  TraceParent: 'traceparent',
  TraceState: 'tracestate',
  ServiceError: 'Nats-Service-Error',
  ServiceErrorCode: 'Nats-Service-Error-Code',
} as const

/** Headers passed to a call: a plain record of single values. */
export type HeaderRecord = Readonly<Record<string, string>>

/** Builds nats.js headers from records; later records win. */
export function toMsgHdrs(...records: (HeaderRecord | undefined)[]): MsgHdrs {
  const h = natsHeaders()
  for (const r of records) {
    if (r === undefined) continue
    for (const k in r) h.set(k, r[k]!)
  }
  return h
}

/** Reads nats.js headers into a plain record (first value of each key). */
export function fromMsgHdrs(h: MsgHdrs | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  if (h === undefined) return out
  for (const [k, v] of h) if (v.length > 0) out[k] = v[0]!
  return out
}
