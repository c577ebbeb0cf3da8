import { isInstanceId } from '../wire/subjects.ts'
import { Fate } from './caller.ts'

/** How a client spreads a service's calls over its workers. */
export interface BalanceOptions {
  /**
   * Every `exploreEvery`th call still goes through the queue group, so the client hears from workers it does not
   * know yet (a worker started after the client's first calls); 1 sends every call through the queue group.
   */
  readonly exploreEvery: number
  /** Instances remembered per service; the one heard from longest ago makes room for a new one. */
  readonly maxInstances: number
}

export const DEFAULT_BALANCE: BalanceOptions = Object.freeze({ exploreEvery: 16, maxInstances: 256 })

/** A worker instance a client heard from, and the client's calls in flight to it. */
export class Instance {
  outstanding = 0
  heardAt = 0
  gone = false
  /** Methods this instance answered as unknown (an older contract): no call to them is sent here. */
  lacks: Set<string> | undefined = undefined
  readonly #subjects = new Map<string, string>()
  constructor(readonly id: string) {}

  /** `<subject>.<id>`: the method subject this instance alone serves. */
  subjectOf(subject: string): string {
    let s = this.#subjects.get(subject)
    if (s === undefined) this.#subjects.set(subject, (s = `${subject}.${this.id}`))
    return s
  }
}

/** Error replies after which the balancer forgets the instance that sent them. */
const FORGOTTEN_ON: ReadonlySet<string> = new Set(['RESOURCE_EXHAUSTED', 'UNAVAILABLE', 'INTERNAL'])

/**
 * Whether this connection may publish to an instance subject: true, false (the server refused it), or undefined
 * (the connection failed first: ask again later).
 */
export type Probe = (instanceId: string) => Promise<boolean | undefined>

/** `unknown` until an instance is heard from, `probing` until the probe answers, then `on`, or `off` for good. */
export type BalancerState = 'unknown' | 'probing' | 'on' | 'off'

/**
 * Client-side load balancing of one service: each call goes to the instance the client has the fewest calls in
 * flight to (ties taken in turn), among the instances it has heard from (a reply through the queue group names
 * its instance). A queue group picks a worker at random, so a worker may be full while another idles; this client
 * knows where its own calls are. Every `exploreEvery`th call, and every call while no instance is known, still
 * goes through the queue group. Direct calls start only once `probe` says the server lets this connection publish
 * to instance subjects, so no real call is ever refused for it.
 */
export class Balancer {
  readonly #instances: Instance[] = []
  /** Known instances, and forgotten ones that still have calls in flight (heard again, they keep their count). */
  readonly #byId = new Map<string, Instance>()
  #calls = 0
  #turn = 0
  #clock = 0
  #state: BalancerState
  readonly #probe: Probe | undefined
  /** Methods some known instance lacks: their calls go only to instances not known to lack them. */
  readonly #contested = new Set<string>()
  readonly #listeners = new Set<(id: string) => void>()

  /** Without `probe`, direct calls start with the first instance heard from. */
  constructor(
    readonly options: BalanceOptions = DEFAULT_BALANCE,
    probe?: Probe,
  ) {
    this.#probe = probe
    this.#state = probe === undefined ? 'on' : 'unknown'
  }

  /** Instances known now. */
  get size(): number {
    return this.#instances.length
  }

  /** Whether direct calls are being made (on), will be once the probe answers, or were turned off for good. */
  get state(): BalancerState {
    return this.#state
  }

  /** Whether direct calls were turned off for good (the server refused an instance subject). */
  get off(): boolean {
    return this.#state === 'off'
  }

  /**
   * The instance for the next call of `method`, counted as in flight until `done()`; undefined: use the queue
   * group. While some known instance lacks `method` (a rollout), only instances not known to lack it are picked and
   * none of its calls explores, so they do not land on an old worker through the queue group.
   */
  pick(method?: string): Instance | undefined {
    const list = this.#instances
    const n = list.length
    if (this.#state !== 'on' || n === 0) return undefined
    if (this.#contested.size !== 0 && method !== undefined && this.#contested.has(method)) return this.#pickServing(method)
    if (++this.#calls % this.options.exploreEvery === 0) return undefined
    const start = this.#turn++ % n
    let best = list[start]!
    for (let i = 1; i < n && best.outstanding > 0; i++) {
      const c = list[(start + i) % n]!
      if (c.outstanding < best.outstanding) best = c
    }
    best.outstanding++
    return best
  }

  #pickServing(method: string): Instance | undefined {
    let best: Instance | undefined
    const list = this.#instances
    const start = this.#turn++ % list.length
    for (let k = 0; k < list.length; k++) {
      const c = list[(start + k) % list.length]!
      if (c.lacks?.has(method) !== true && (best === undefined || c.outstanding < best.outstanding)) best = c
    }
    if (best !== undefined) best.outstanding++
    return best
  }

  /**
   * Instance `id` does not serve `method` (it answered it as unknown, or its `$SRV.INFO` lists no such method).
   * True when this was news: the instance is known and was not yet known to lack it.
   */
  lacking(id: string, method: string): boolean {
    const i = this.#byId.get(id)
    if (i === undefined || i.gone || i.lacks?.has(method) === true) return false
    ;(i.lacks ??= new Set()).add(method)
    this.#contested.add(method)
    return true
  }

  /** Whether some known instance lacks `method`. */
  contested(method: string): boolean {
    return this.#contested.has(method)
  }

  /** Calls `listener` with the id of every instance the balancer starts to know; returns a function that stops it. */
  onInstance(listener: (id: string) => void): () => void {
    this.#listeners.add(listener)
    return () => void this.#listeners.delete(listener)
  }

  /** A call to `i` ended. */
  done(i: Instance): void {
    i.outstanding--
    if (i.gone) this.#release(i)
  }

  /**
   * A call sent to `i` got a reply with status `code`. A full, stopping or failing instance would look idle to this
   * client and draw its calls, so it is forgotten (a reply through the queue group brings it back).
   */
  answered(i: Instance, code: string): void {
    this.done(i)
    if (FORGOTTEN_ON.has(code)) this.forget(i)
  }

  /**
   * Whether a reply with status `code` that came through the queue group should be heard from (`heard()` with the
   * instance it names): not when it is off, and not from an instance that refused the call or is stopping.
   */
  hears(code: string): boolean {
    return this.#state !== 'off' && code !== 'RESOURCE_EXHAUSTED' && code !== 'UNAVAILABLE'
  }

  /**
   * A call sent to `i` failed without a reply, with the Caller's `fate` for it (undefined when unknown). Forgets
   * `i` when it timed out or never got the call; a refusal turns direct calls off for good (the probe found
   * instance subjects allowed, so this is a permissions reload, and the call may have been delivered before it).
   * True when no worker got the request, so sending it again through the queue group is safe for any method.
   */
  failed(i: Instance, fate: Fate | undefined): boolean {
    this.done(i)
    if (fate === Fate.refused) this.turnOff()
    else if (fate !== undefined) this.forget(i)
    return fate === Fate.noResponders || fate === Fate.unsent
  }

  /** A reply through the queue group came from instance `id`. */
  heard(id: string): void {
    if (this.#state === 'off') return
    const clock = ++this.#clock
    let i = this.#byId.get(id)
    if (i === undefined) {
      if (!isInstanceId(id)) return
      this.#byId.set(id, (i = new Instance(id)))
      this.#admit(i)
      for (const l of this.#listeners) l(id)
    } else if (i.gone) {
      i.gone = false
      this.#admit(i)
    }
    i.heardAt = clock
    if (this.#state === 'unknown') this.#startProbe(id)
  }

  /** Drops `i` (it has gone, failed or missed a deadline); a later reply through the queue group brings it back. */
  forget(i: Instance): void {
    if (i.gone) return
    i.gone = true
    const at = this.#instances.indexOf(i)
    if (at !== -1) this.#instances.splice(at, 1)
    this.#release(i)
    if (i.lacks !== undefined) for (const m of i.lacks) if (!this.#instances.some((o) => o.lacks?.has(m) === true)) this.#contested.delete(m)
  }

  /** No more direct calls: every call goes through the queue group from now on. */
  turnOff(): void {
    this.#state = 'off'
    for (const i of [...this.#instances]) this.forget(i)
  }

  /** Lists `i` for picking, making room by forgetting the instance heard from longest ago. */
  #admit(i: Instance): void {
    if (this.#instances.length >= this.options.maxInstances) this.forget(this.#instances.reduce((a, b) => (b.heardAt < a.heardAt ? b : a)))
    this.#instances.push(i)
    if (i.lacks !== undefined) for (const m of i.lacks) this.#contested.add(m)
  }

  #release(i: Instance): void {
    if (i.outstanding <= 0 && this.#byId.get(i.id) === i) this.#byId.delete(i.id)
  }

  #startProbe(id: string): void {
    this.#state = 'probing'
    this.#probe!(id).then(
      (allowed) => this.#probed(allowed),
      () => this.#probed(undefined),
    )
  }

  #probed(allowed: boolean | undefined): void {
    if (this.#state !== 'probing') return
    if (allowed === true) this.#state = 'on'
    else if (allowed === false) this.turnOff()
    else this.#state = 'unknown'
  }
}
