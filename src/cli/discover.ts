import { Empty, type NatsConnection } from '@nats-io/nats-core'
import { microSubject, type MicroIdentity, type MicroInfo, type MicroStats, type MicroVerb } from '../micro.ts'

/** A discovery reply and how long after the request it came, in ms. */
export interface Found<T> {
  readonly reply: T
  readonly rtt: number
}

const STALL_MS = 300

/**
 * Asks every instance (or those of `service`) with one request and many replies; stops `wait` ms after sending,
 * or once replies stall. Sorted by service name, then instance id.
 */
export async function discover<T extends MicroIdentity>(nc: NatsConnection, verb: MicroVerb, service: string | undefined, wait: number): Promise<Found<T>[]> {
  const found: Found<T>[] = []
  const t0 = performance.now()
  try {
    const replies = await nc.requestMany(microSubject(verb, service), Empty, { strategy: 'stall', maxWait: wait, stall: STALL_MS })
    for await (const m of replies) {
      if (m.data.length === 0) continue
      try {
        found.push({ reply: JSON.parse(new TextDecoder().decode(m.data)) as T, rtt: performance.now() - t0 })
      } catch {
        // not a micro reply: skip it
      }
    }
  } catch (err) {
    if (!/no responders|503/i.test(String((err as Error)?.message))) throw err
  }
  return found.sort((a, b) => a.reply.name.localeCompare(b.reply.name) || a.reply.id.localeCompare(b.reply.id))
}

export const ping = (nc: NatsConnection, service: string | undefined, wait: number) => discover<MicroIdentity>(nc, 'PING', service, wait)
export const info = (nc: NatsConnection, service: string, wait: number) => discover<MicroInfo>(nc, 'INFO', service, wait)
export const stats = (nc: NatsConnection, service: string | undefined, wait: number) => discover<MicroStats>(nc, 'STATS', service, wait)

/** Groups replies by service name, keeping order. */
export function byService<T extends MicroIdentity>(found: readonly Found<T>[]): Map<string, T[]> {
  const out = new Map<string, T[]>()
  for (const { reply } of found) {
    const list = out.get(reply.name)
    if (list === undefined) out.set(reply.name, [reply])
    else list.push(reply)
  }
  return out
}
