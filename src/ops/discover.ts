import { Empty, type NatsConnection } from '@nats-io/nats-core'
import { isNoResponders, isTimeout } from '../wire/nats-errors.ts'
import { microSubject, type MicroIdentity, type MicroInfo, type MicroStats, type MicroVerb } from './micro.ts'

/** A discovery reply and how long after the request it came, in ms. */
export interface Found<T> {
  readonly reply: T
  readonly rtt: number
}

/** How a discovery request collects replies; unset fields take their value from DEFAULT_DISCOVER_OPTIONS. */
export interface DiscoverOptions {
  /** Ask only the instances of this service. */
  readonly service?: string
  /** Ask only this instance of `service`. */
  readonly instance?: string
  /** Collect replies for at most this many ms. */
  readonly wait?: number
  /**
   * `stall`: stop early once replies stall for 300 ms (a CLI answers sooner); `timer`: always wait `wait` ms, so
   * one slow instance on a busy machine is not taken for gone (a dashboard).
   */
  readonly until?: 'stall' | 'timer'
}

export const DEFAULT_DISCOVER_OPTIONS = { service: undefined, instance: undefined, wait: 1_000, until: 'stall' } as const satisfies DiscoverOptions

const STALL_MS = 300

/**
 * NATS micro discovery: asks every instance (or those of one service) `$SRV.<verb>` with one request and many
 * replies. Replies that are not micro replies are skipped; nobody answering is an empty list, not an error. Sorted by
 * service name, then instance id.
 *
 * ```ts
 * const found = await discover<MicroStats>(nc, 'STATS', { service: 'user', wait: 500 })
 * ```
 */
export async function discover<T extends MicroIdentity>(nc: NatsConnection, verb: MicroVerb, options: DiscoverOptions = {}): Promise<Found<T>[]> {
  const { service, instance, wait, until } = { ...DEFAULT_DISCOVER_OPTIONS, ...options }
  const found: Found<T>[] = []
  const t0 = performance.now()
  const text = new TextDecoder()
  try {
    const replies = await nc.requestMany(
      microSubject(verb, service, service === undefined ? undefined : instance),
      Empty,
      until === 'stall' ? { strategy: 'stall', maxWait: wait, stall: STALL_MS } : { strategy: 'timer', maxWait: wait },
    )
    for await (const m of replies) {
      if (m.data.length === 0) continue
      try {
        const reply = JSON.parse(text.decode(m.data)) as T
        if (typeof reply?.name === 'string' && typeof reply.id === 'string') found.push({ reply, rtt: performance.now() - t0 })
      } catch {
        // not a micro reply: skip it
      }
    }
  } catch (err) {
    if (!isNoResponders(err) && !isTimeout(err)) throw err
  }
  return found.sort((a, b) => a.reply.name.localeCompare(b.reply.name) || a.reply.id.localeCompare(b.reply.id))
}

export const ping = (nc: NatsConnection, service: string | undefined, wait: number) => discover<MicroIdentity>(nc, 'PING', { service, wait })
export const info = (nc: NatsConnection, service: string, wait: number) => discover<MicroInfo>(nc, 'INFO', { service, wait })
export const stats = (nc: NatsConnection, service: string | undefined, wait: number) => discover<MicroStats>(nc, 'STATS', { service, wait })

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
