import type { NatsConnection } from '@nats-io/nats-core'
import { discover, MicroMeta, mixOf, type Found, type MicroInfo, type MicroStats, type ServiceMix } from 'switchboard'
import { resolveOpsOptions, type OpsOptions, type ResolvedOpsOptions } from './options.ts'
import type { InstanceView, MethodView, OpsSnapshot, ServiceView } from './snapshot.ts'

interface Counts {
  n: number
  e: number
  ns: number
}

interface Instance {
  reply: MicroStats
  rtt: number
  misses: number
}

interface Tick {
  readonly at: number
  /** Seconds since the previous poll. */
  readonly dt: number
  /** Deltas per `service\tmethod`. */
  readonly deltas: ReadonlyMap<string, Counts>
}

export interface MonitorOptions extends OpsOptions {
  /** This process's own row, added to every poll (e.g. a gateway that does not answer `$SRV`). */
  readonly self?: () => MicroStats
  /** Descriptions of services that give none over `$SRV.INFO` (e.g. the synthetic gateway row). */
  readonly descriptions?: Readonly<Record<string, string>>
}

const add = (a: Counts, b: Counts) => ((a.n += b.n), (a.e += b.e), (a.ns += b.ns))

/** Stands for the contract of instances that publish no contract hash (not switchboard workers). */
const NO_HASH = '?'
/** Mixes kept (by service and hash set); the oldest go first. */
const MAX_MIXES = 64

const hashOf = (s: MicroStats) => s.metadata?.[MicroMeta.ContractHash] ?? NO_HASH

/**
 * Polls `$SRV.STATS` (requestMany, collecting for `wait` ms) every `intervalMs` once started, asks `$SRV.INFO.<name>` once per new service for
 * its description, and turns the cumulative counters of every instance into rates, error ratios and latencies over
 * the last `windowMs`, with `historyMs` of per-poll history for charts. When the instances of a service run more than
 * one contract (`switchboard.contract_hash` in STATS), it asks `$SRV.INFO.<name>` once per set of hashes whether
 * they may serve side by side (mixOf), without holding up the poll: a later snapshot shows the mix. Nothing is sent
 * before start().
 */
export class OpsMonitor {
  readonly #nc: NatsConnection
  readonly #opts: ResolvedOpsOptions
  readonly #self: (() => MicroStats) | undefined
  readonly #descriptions = new Map<string, string>()
  /** By `service\thashes` (sorted, comma-separated): the mix, or `pending` while INFO is asked. */
  readonly #mixes = new Map<string, ServiceMix | 'pending'>()
  readonly #instances = new Map<string, Instance>()
  readonly #prev = new Map<string, Counts>()
  readonly #ticks: Tick[] = []
  readonly #listeners = new Set<(s: OpsSnapshot) => void>()
  #startedAt = 0
  #lastAt = 0
  #polls = 0
  #timer: ReturnType<typeof setTimeout> | undefined
  #running: Promise<void> | undefined
  #stopped = false
  #latest: OpsSnapshot | undefined
  #wake: (() => void) | undefined
  #firstDone: () => void = () => undefined
  readonly #first: Promise<void> = new Promise((r) => (this.#firstDone = r))

  constructor(nc: NatsConnection, options: MonitorOptions = {}) {
    this.#nc = nc
    this.#opts = resolveOpsOptions(options)
    this.#self = options.self
    for (const [k, v] of Object.entries(options.descriptions ?? {})) this.#descriptions.set(k, v)
  }

  get options(): ResolvedOpsOptions {
    return this.#opts
  }

  /** Starts polling (first poll at once); later calls do nothing. Resolves after the first poll. */
  start(): Promise<void> {
    if (this.#stopped) return Promise.resolve()
    if (this.#running === undefined) {
      this.#startedAt = Date.now()
      this.#running = this.#loop()
    }
    return this.#first
  }

  /** Stops polling; the last snapshot stays readable. */
  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#wake?.()
    this.#firstDone()
    this.#listeners.clear()
    await this.#running
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      const t0 = Date.now()
      try {
        await this.poll()
      } catch {
        // the connection is down or closing: try again next time
      }
      this.#firstDone()
      if (this.#stopped) break
      await new Promise<void>((r) => {
        this.#wake = r
        this.#timer = setTimeout(r, Math.max(0, this.#opts.intervalMs - (Date.now() - t0)))
      })
    }
  }

  /** The latest snapshot (after the first poll), or an empty one. */
  snapshot(): OpsSnapshot {
    return (
      this.#latest ?? {
        at: Date.now(),
        intervalMs: this.#opts.intervalMs,
        windowMs: this.#opts.windowMs,
        polls: 0,
        times: [],
        rate: [],
        errorRate: [],
        services: [],
      }
    )
  }

  /** Calls `listener` with every new snapshot until the returned function is called. */
  listen(listener: (s: OpsSnapshot) => void): () => void {
    this.#listeners.add(listener)
    return () => void this.#listeners.delete(listener)
  }

  /** One poll: ask, count, publish a snapshot to the listeners. Exposed for tests; the loop calls it. */
  async poll(): Promise<OpsSnapshot> {
    if (this.#nc.isClosed()) return this.snapshot()
    const o = this.#opts
    const found: Found<MicroStats>[] = await discover<MicroStats>(this.#nc, 'STATS', { wait: o.wait, until: 'timer' })
    if (this.#self !== undefined) found.push({ reply: this.#self(), rtt: 0 })
    const now = Date.now()
    const first = this.#polls === 0
    const dt = first ? o.intervalMs / 1000 : Math.max(0.001, (now - this.#lastAt) / 1000)
    const deltas = new Map<string, Counts>()
    const seen = new Set<string>()
    for (const { reply, rtt } of found) {
      const key = `${reply.name}\t${reply.id}`
      if (seen.has(key)) continue
      seen.add(key)
      const known = this.#instances.has(key)
      this.#instances.set(key, { reply, rtt, misses: 0 })
      const fresh = !known && !first && Date.parse(reply.started) >= this.#startedAt - o.intervalMs
      for (const ep of reply.endpoints ?? []) {
        const cur = { n: ep.num_requests, e: ep.num_errors, ns: ep.processing_time }
        const ck = `${key}\t${ep.name}`
        const prev = this.#prev.get(ck)
        this.#prev.set(ck, cur)
        let d: Counts
        if (prev === undefined) d = fresh ? { ...cur } : { n: 0, e: 0, ns: 0 }
        else if (cur.n < prev.n) d = { ...cur }
        else d = { n: cur.n - prev.n, e: Math.max(0, cur.e - prev.e), ns: Math.max(0, cur.ns - prev.ns) }
        const mk = `${reply.name}\t${ep.name}`
        const acc = deltas.get(mk)
        if (acc === undefined) deltas.set(mk, d)
        else add(acc, d)
      }
      if (!this.#descriptions.has(reply.name)) this.#describe(reply.name)
    }
    for (const [key, inst] of this.#instances) {
      if (seen.has(key)) continue
      if (++inst.misses >= o.missesToDrop) {
        this.#instances.delete(key)
        for (const ck of this.#prev.keys()) if (ck.startsWith(`${key}\t`)) this.#prev.delete(ck)
      }
    }
    this.#ticks.push({ at: now, dt, deltas })
    while (this.#ticks.length > 0 && this.#ticks[0]!.at < now - o.historyMs) this.#ticks.shift()
    this.#lastAt = now
    this.#polls++
    const snap = this.#build(now)
    this.#latest = snap
    for (const l of this.#listeners) l(snap)
    return snap
  }

  #describe(name: string): void {
    this.#descriptions.set(name, '')
    void discover<MicroInfo>(this.#nc, 'INFO', { service: name, wait: this.#opts.wait, until: 'timer' })
      .then((r) => this.#descriptions.set(name, r[0]?.reply.description ?? ''))
      .catch(() => this.#descriptions.delete(name))
  }

  /** The mix of the contracts `list` runs: undefined for one contract, or while it is being asked. */
  #mixOf(name: string, list: readonly Instance[]): ServiceMix | undefined {
    const hashes = [...new Set(list.map((i) => hashOf(i.reply)))].sort()
    if (hashes.length <= 1) return undefined
    const key = `${name}\t${hashes.join(',')}`
    const known = this.#mixes.get(key)
    if (known !== undefined) return known === 'pending' ? undefined : known
    this.#mixes.set(key, 'pending')
    void discover<MicroInfo>(this.#nc, 'INFO', { service: name, wait: this.#opts.wait, until: 'timer' })
      .then((found) => {
        const infos = found.map((f) => f.reply)
        const answered = new Set(infos.map((i) => i.metadata?.[MicroMeta.ContractHash]))
        // an instance that did not answer in time: ask again at the next poll rather than keep a partial mix
        if (hashes.some((h) => h !== NO_HASH && !answered.has(h))) return void this.#mixes.delete(key)
        this.#mixes.delete(key)
        this.#mixes.set(key, mixOf(name, infos))
        for (const k of this.#mixes.keys()) {
          if (this.#mixes.size <= MAX_MIXES) break
          this.#mixes.delete(k)
        }
      })
      .catch(() => this.#mixes.delete(key))
    return undefined
  }

  #build(now: number): OpsSnapshot {
    const o = this.#opts
    const window = this.#ticks.filter((t) => t.at > now - o.windowMs)
    const windowSeconds = window.reduce((s, t) => s + t.dt, 0) || o.intervalMs / 1000
    const byService = new Map<string, Instance[]>()
    for (const inst of this.#instances.values()) {
      const list = byService.get(inst.reply.name)
      if (list === undefined) byService.set(inst.reply.name, [inst])
      else list.push(inst)
    }
    const services: ServiceView[] = [...byService.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, list]) => {
        list.sort((a, b) => a.reply.id.localeCompare(b.reply.id))
        const totals = new Map<string, Counts & { last: string }>()
        const instances: InstanceView[] = list.map(({ reply, rtt, misses }) => {
          let requests = 0
          let errors = 0
          for (const ep of reply.endpoints ?? []) {
            requests += ep.num_requests
            errors += ep.num_errors
            const t = totals.get(ep.name) ?? { n: 0, e: 0, ns: 0, last: '' }
            add(t, { n: ep.num_requests, e: ep.num_errors, ns: ep.processing_time })
            if (ep.last_error) t.last = ep.last_error
            totals.set(ep.name, t)
          }
          return {
            id: reply.id,
            version: reply.version,
            contractHash: reply.metadata?.[MicroMeta.ContractHash] ?? '',
            started: reply.started,
            rtt: Math.round(rtt * 10) / 10,
            requests,
            errors,
            stale: misses > 0,
            metadata: reply.metadata ?? {},
          }
        })
        const methods: MethodView[] = [...totals.entries()]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([method, t]) => {
            const w = { n: 0, e: 0, ns: 0 }
            for (const tick of window) {
              const d = tick.deltas.get(`${name}\t${method}`)
              if (d !== undefined) add(w, d)
            }
            const avgNs = w.n > 0 ? w.ns / w.n : t.n > 0 ? t.ns / t.n : 0
            return {
              name: method,
              requests: t.n,
              errors: t.e,
              rate: round(w.n / windowSeconds),
              errorRatio: w.n > 0 ? round(w.e / w.n) : 0,
              avgMs: round(avgNs / 1e6),
              lastError: t.last,
            }
          })
        const series = this.#series((k) => k.startsWith(`${name}\t`))
        return {
          name,
          description: this.#descriptions.get(name) ?? '',
          versions: [...new Set(list.map((i) => i.reply.version))].sort(),
          mix: this.#mixOf(name, list),
          instances,
          methods,
          rate: series.rate,
          errorRate: series.errorRate,
        }
      })
    const all = this.#series(() => true)
    return {
      at: now,
      intervalMs: o.intervalMs,
      windowMs: o.windowMs,
      polls: this.#polls,
      times: this.#ticks.map((t) => t.at),
      rate: all.rate,
      errorRate: all.errorRate,
      services,
    }
  }

  #series(match: (key: string) => boolean): { rate: number[]; errorRate: number[] } {
    const rate: number[] = []
    const errorRate: number[] = []
    for (const t of this.#ticks) {
      let n = 0
      let e = 0
      for (const [k, d] of t.deltas) {
        if (!match(k)) continue
        n += d.n
        e += d.e
      }
      rate.push(round(n / t.dt))
      errorRate.push(round(e / t.dt))
    }
    return { rate, errorRate }
  }
}

const round = (x: number) => Math.round(x * 1000) / 1000
