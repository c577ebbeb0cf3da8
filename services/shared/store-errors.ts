import { RpcError, systemError, type CallContext } from 'switchboard'

/** nats.js / JetStream errors that mean "the state store cannot answer right now", not "the handler is wrong". */
const TRANSIENT = new Set([
  'TimeoutError',
  'NoResponders',
  'RequestError',
  'JetStreamNotEnabled',
  'ClosedConnectionError',
  'ConnectionError',
  'DrainingConnectionError',
])
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

/** How long a module waits at start for its state store (JetStream electing its leaders on a fresh cluster). */
export const DEFAULT_STORE_READY_MS = 30_000

/**
 * Runs `open` until it succeeds, retrying passing store failures with a growing pause (25 ms doubling to 1 s) for
 * at most `withinMs`; any other error, or the last passing one, is thrown. For opening buckets and streams at start.
 */
export async function untilStoreReady<T>(open: () => Promise<T>, withinMs = DEFAULT_STORE_READY_MS): Promise<T> {
  const until = Date.now() + withinMs
  for (let pause = 25; ; pause = Math.min(1_000, pause * 2)) {
    try {
      return await open()
    } catch (err) {
      if (!isTransientStoreError(err) || Date.now() + pause > until) throw err
      await new Promise((r) => setTimeout(r, pause))
    }
  }
}
