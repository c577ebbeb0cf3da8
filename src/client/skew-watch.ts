import type { NatsConnection } from '@nats-io/nats-core'
import type { AnyContract } from '../contract.ts'
import { stderrLogger, type Logger } from '../logger.ts'
import { discover } from '../ops/discover.ts'
import { MicroMeta, type MicroInfo } from '../ops/micro.ts'
import { Skew, skewOf, type SkewReport } from '../ops/skew.ts'
import type { Balancer } from './balancer.ts'

/** How a client watches the contracts of the workers it calls (`ClientOptions.skew`). */
export interface SkewOptions {
  /** How often every instance of the service is asked `$SRV.INFO` again, in ms. */
  readonly intervalMs: number
  /** How long one round of `$SRV.INFO` collects replies, in ms. */
  readonly wait: number
  /**
   * Where a skew is written, once per instance: `info` for a compatible one, `warn` for `behind` and `unknown`,
   * `error` for `breaking`.
   */
  readonly logger: Logger
  /** Called once per instance whose contract is not the client's (every verdict but `same`). */
  readonly onSkew: ((report: SkewReport) => void) | undefined
}

export const DEFAULT_SKEW: SkewOptions = Object.freeze({ intervalMs: 60_000, wait: 500, logger: stderrLogger('warn'), onSkew: undefined })

const LEVEL = { same: 'debug', compatible: 'info', behind: 'warn', unknown: 'warn', breaking: 'error' } as const satisfies Record<Skew, keyof Logger>

/**
 * Compares a client's contract with what the instances of its service publish in `$SRV.INFO` (version, schemas,
 * hashes): at the first call, every `intervalMs` after it while the connection is open, and for each new instance
 * the balancer hears from. Reports each instance once, and tells the balancer which of the client's methods each
 * one lacks, so their calls go only to instances that serve them. Nothing is sent before `touch()`.
 */
export class SkewWatch {
  readonly #reports = new Map<string, SkewReport>()
  #timer: ReturnType<typeof setInterval> | undefined = undefined
  #started = false
  #stopListening: (() => void) | undefined = undefined

  constructor(
    readonly nc: NatsConnection,
    readonly contract: AnyContract,
    readonly prefix: string,
    readonly options: SkewOptions,
    readonly balancer: Balancer | undefined,
  ) {}

  /** A call is being made: the first one starts the watch. */
  touch(): void {
    if (this.#started) return
    this.#started = true
    if (this.nc.isClosed()) return
    void this.check()
    this.#timer = setInterval(() => void this.check(), this.options.intervalMs)
    this.#timer.unref?.()
    this.#stopListening = this.balancer?.onInstance((id) => void this.check(id))
    this.nc.closed().then(
      () => this.stop(),
      () => this.stop(),
    )
  }

  /** The latest report of every instance heard from, by instance id. */
  reports(): ReadonlyMap<string, SkewReport> {
    return this.#reports
  }

  /** Asks every instance (or one) for its `$SRV.INFO` and judges the new ones; never throws. */
  async check(instance?: string): Promise<readonly SkewReport[]> {
    let found: MicroInfo[]
    try {
      found = (await discover<MicroInfo>(this.nc, 'INFO', { service: this.contract.name, instance, wait: this.options.wait })).map((f) => f.reply)
    } catch {
      return [] // the connection is down or closing: the next round asks again
    }
    const out: SkewReport[] = []
    for (const info of found) {
      if ((info.metadata?.[MicroMeta.Prefix] ?? this.prefix) !== this.prefix) continue
      let r = this.#reports.get(info.id)
      if (r === undefined) {
        this.#reports.set(info.id, (r = skewOf(this.contract, info)))
        this.#report(r)
      }
      for (const m of r.missing) this.balancer?.lacking(info.id, m)
      out.push(r)
    }
    return out
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#stopListening?.()
  }

  #report(r: SkewReport): void {
    if (r.skew === Skew.same) return
    const { logger, onSkew } = this.options
    const message =
      r.skew === Skew.compatible
        ? `${r.service} instance ${r.instance} runs contract ${r.version}, a compatible evolution of this client's ${r.localVersion}`
        : r.skew === Skew.behind
          ? `${r.service} instance ${r.instance} runs contract ${r.version}, older than this client's ${r.localVersion}` +
            (r.missing.length > 0 ? `: it lacks ${r.missing.join(', ')} (their calls go to other instances)` : '')
          : `${r.service} instance ${r.instance} runs contract ${r.version}, ${r.skew === Skew.breaking ? 'incompatible with' : 'not judged against'} this client's ${r.localVersion}: ${r.changes.map((c) => `${c.where}: ${c.detail}`).join('; ')}`
    try {
      logger[LEVEL[r.skew]](
        { service: r.service, instance: r.instance, version: r.version, localVersion: r.localVersion, skew: r.skew, missing: r.missing },
        message,
      )
      onSkew?.(r)
    } catch {
      // a failing logger or callback must not break the client
    }
  }
}

const watches = new WeakMap<NatsConnection, Map<string, WeakMap<AnyContract, SkewWatch>>>()

/** The one SkewWatch per connection, prefix and contract (the options of the first client that asks for it). */
export function skewWatchOf(nc: NatsConnection, contract: AnyContract, prefix: string, options: SkewOptions, balancer: Balancer | undefined): SkewWatch {
  let byPrefix = watches.get(nc)
  if (byPrefix === undefined) watches.set(nc, (byPrefix = new Map()))
  let byContract = byPrefix.get(prefix)
  if (byContract === undefined) byPrefix.set(prefix, (byContract = new WeakMap()))
  let w = byContract.get(contract)
  if (w === undefined) byContract.set(contract, (w = new SkewWatch(nc, contract, prefix, options, balancer)))
  return w
}
