import type { NatsConnection } from '@nats-io/nats-core'
import { Balancer, type BalanceOptions } from './balancer.ts'
import { callerOf } from './caller.ts'

const registries = new WeakMap<NatsConnection, Map<string, Balancer>>()

/**
 * The one Balancer, per connection and options, of the service whose queue subjects start with `base`
 * (`<prefix>.<service>`). Its probe publishes once to `<base>.$probe.<instanceId>`, a subject no worker serves, to
 * learn whether the server lets this connection publish to instance subjects.
 */
export function balancerOf(nc: NatsConnection, base: string, options: BalanceOptions): Balancer {
  let balancers = registries.get(nc)
  if (balancers === undefined) registries.set(nc, (balancers = new Map()))
  const key = `${options.exploreEvery}/${options.maxInstances}/${base}`
  let b = balancers.get(key)
  if (b === undefined) {
    const caller = callerOf(nc)
    balancers.set(key, (b = new Balancer(options, (id) => caller.mayPublish(`${base}.$probe.${id}`))))
  }
  return b
}
