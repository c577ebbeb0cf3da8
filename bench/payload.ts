import { encodeBody } from 'switchboard/internal'
import type { EchoBody } from './echo-contract.ts'

/** Named payload sizes of the rpc bench. */
export const PAYLOADS = { small: 'small', large: '64KB' } as const

const SMALL_TEXT = 'hello from the switchboard bench, pls echo'
const LARGE_BYTES = 64 * 1024

/** The echo body: ~60 bytes of msgpack (small) or ~64 KB (large). */
export function echoPayload(size: 'small' | '64KB'): EchoBody {
  const text = size === 'small' ? SMALL_TEXT : 'x'.repeat(LARGE_BYTES - 40)
  return { seq: 1, text, tags: ['a', 'b'] }
}

/** The msgpack size of a payload in bytes. */
export function payloadBytes(body: EchoBody): number {
  return encodeBody(body).length
}
