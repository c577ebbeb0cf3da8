import { RpcError, systemError, type CallContext } from '../../src/index.ts'

/** nats.js / JetStream errors that mean "the state store cannot answer right now", not "the handler is wrong". */
const TRANSIENT = new Set(['TimeoutError', 'NoResponders', 'RequestError', 'JetStreamNotEnabled', 'ClosedConnectionError', 'ConnectionError', 'DrainingConnectionError'])
const TRANSIENT_API = /no leader|not ready|unavailable|temporarily|insufficient resources|timeout/i

/** Whether `err` is a passing failure of NATS or JetStream (a server lost, a leader election, a timeout). */
export function isTransientStoreError(err: unknown): err is Error {
  if (!(err instanceof Error) || err instanceof RpcError) return false
  if (TRANSIENT.has(err.name)) return true
  const code = (err as { code?: unknown }).code
  return err.name === 'JetStreamApiError' && (code === 503 || TRANSIENT_API.test(err.message))
}

/**
 * Worker middleware for the chat modules: a passing failure of the state store becomes UNAVAILABLE (which a client
 * retries for idempotent methods) instead of INTERNAL.
 */
export async function storeErrors<State extends object>(_ctx: CallContext<State>, next: () => Promise<unknown>): Promise<unknown> {
  try {
    return await next()
  } catch (err) {
    if (isTransientStoreError(err)) throw systemError('UNAVAILABLE', `state store unavailable, try again: ${err.message}`, undefined, err)
    throw err
  }
}
