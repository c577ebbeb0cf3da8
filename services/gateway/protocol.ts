import type { RpcError } from 'switchboard'

/** Version of the gateway's JSON protocol, sent in the hello frame. */
export const PROTOCOL_VERSION = 2

/** A call frame, client to gateway. */
export interface CallFrame {
  readonly id: number | string
  readonly call: string
  readonly input: unknown
}

/** The error part of a failed reply frame. */
export interface ErrorBody {
  readonly code: string
  readonly status: number
  readonly message: string
  readonly data?: unknown
}

/** Gateway to client: a reply to a call frame. `id` is null when the frame had no usable id. */
export type ReplyFrame =
  | { readonly id: number | string; readonly ok: true; readonly result: unknown }
  | { readonly id: number | string | null; readonly ok: false; readonly error: ErrorBody }

/** Events the gateway pushes without being asked. */
export const GatewayEvent = {
  hello: 'hello',
  message: 'message',
  edited: 'edited',
  deleted: 'deleted',
  typing: 'typing',
  read: 'read',
  broadcast: 'broadcast',
  session: 'session',
} as const
export type GatewayEvent = (typeof GatewayEvent)[keyof typeof GatewayEvent]

/** Gateway to client: a pushed event. */
export interface EventFrame {
  readonly event: GatewayEvent
  readonly [key: string]: unknown
}

const CALL_PATTERN = /^[a-zA-Z][a-zA-Z0-9_-]*\.[a-zA-Z][a-zA-Z0-9_-]*$/
const MAX_ID_LENGTH = 64

/** The result of reading one text frame: a call, or the reply frame to send back at once. */
export type Parsed = { readonly ok: true; readonly frame: CallFrame } | { readonly ok: false; readonly reply: ReplyFrame }

/** Reads one client frame; every way it can be wrong becomes an INVALID_ARGUMENT reply. */
export function parseFrame(text: string): Parsed {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    return invalid(null, `frame is not valid JSON: ${(err as Error).message}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return invalid(null, 'frame must be a JSON object')
  const { id, call, input } = value as Record<string, unknown>
  const idOk = (typeof id === 'number' && Number.isSafeInteger(id)) || (typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH)
  if (!idOk) return invalid(null, `frame needs an "id": an integer or a string of 1 to ${MAX_ID_LENGTH} characters`)
  const fid = id as number | string
  if (typeof call !== 'string' || !CALL_PATTERN.test(call)) return invalid(fid, 'frame needs a "call" of the form "service.method"')
  return { ok: true, frame: { id: fid, call, input: input === undefined ? {} : input } }
}

/** A failed reply frame. */
export function errorReply(id: number | string | null, code: string, status: number, message: string, data?: unknown): ReplyFrame {
  return { id, ok: false, error: data === undefined ? { code, status, message } : { code, status, message, data } }
}

/** A failed reply frame carrying an RpcError as is (its code, status, message and data). */
export function rpcErrorReply(id: number | string, err: RpcError): ReplyFrame {
  return errorReply(id, err.code, err.status, err.message, err.data)
}

function invalid(id: number | string | null, message: string): Parsed {
  return { ok: false, reply: errorReply(id, 'INVALID_ARGUMENT', 400, message) }
}
