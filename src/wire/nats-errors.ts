import { NoRespondersError, RequestError, TimeoutError } from '@nats-io/nats-core'

/** Whether a nats.js request failed because nobody subscribes its subject (the server's 503 status). */
export function isNoResponders(err: unknown): boolean {
  return err instanceof NoRespondersError || (err instanceof RequestError && err.isNoResponders())
}

/** Whether a nats.js request got no reply in time. */
export function isTimeout(err: unknown): boolean {
  return err instanceof TimeoutError
}
