import { Empty, type NatsConnection } from '@nats-io/nats-core'
import { microSubject, type MicroIdentity, type MicroVerb } from '../../src/index.ts'

/** One discovery reply and how long after the request it came, in ms. */
export interface Reply<T> {
  readonly reply: T
  readonly rtt: number
}

/**
 * Sends one `$SRV.<verb>[.<service>]` request and collects every instance's reply (requestMany) for `wait` ms: a
 * fixed wait rather than "until replies stall", so one slow instance on a busy machine is not taken for gone.
 * Nobody answering is an empty list, not an error.
 */
export async function discover<T extends MicroIdentity>(nc: NatsConnection, verb: MicroVerb, service: string | undefined, wait: number): Promise<Reply<T>[]> {
  const found: Reply<T>[] = []
  const t0 = performance.now()
  try {
    const replies = await nc.requestMany(microSubject(verb, service), Empty, { strategy: 'timer', maxWait: wait })
    for await (const m of replies) {
      if (m.data.length === 0) continue
      try {
        const reply = JSON.parse(new TextDecoder().decode(m.data)) as T
        if (typeof reply?.name === 'string' && typeof reply.id === 'string') found.push({ reply, rtt: performance.now() - t0 })
      } catch {
        // not a micro reply: skip it
      }
    }
  } catch (err) {
    if (!/no responders|503|timeout/i.test(String((err as Error)?.message))) throw err
  }
  return found
}
