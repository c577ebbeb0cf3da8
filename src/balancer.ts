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

/** A subject token NATS accepts and the wire protocol allows as an instance id. */
const INSTANCE_ID = /^[!-)+-\-/-=?-~]{1,64}$/

/** Whether `id` can name an instance in a direct subject (`<subject>.<id>`): one NATS token, at most 64 chars. */
export function isInstanceId(id: string): boolean {
  return INSTANCE_ID.test(id)
}

/** A worker instance a client heard from, and the client's calls in flight to it. */
export class Instance {
  outstanding = 0
  heardAt = 0
  gone = false
  readonly #subjects = new Map<string, string>()
  constructor(readonly id: string) {}

  /** `<subject>.<id>`: the method subject this instance alone serves. */
  subjectOf(subject: string): string {
    let s = this.#subjects.get(subject)
    if (s === undefined) this.#subjects.set(subject, (s = `${subject}.${this.id}`))
    return s
  }
}

/**
 * Client-side load balancing of one service: each call goes to the instance the client has the fewest calls in
 * flight to (ties taken in turn), among the instances it has heard from (a reply through the queue group names
 * its instance). A queue group picks a worker at random, so a worker may be full while another idles; this client
 * knows where its own calls are. Every `exploreEvery`th call, and every call while no instance is known, still
 * goes through the queue group.
 */
export class Balancer {
  readonly #instances: Instance[] = []
  readonly #byId = new Map<string, Instance>()
  #calls = 0
  #turn = 0
  #clock = 0
  #off = false
  #reached = false

  constructor(readonly options: BalanceOptions = DEFAULT_BALANCE) {}

  /** Instances known now. */
  get size(): number {
    return this.#instances.length
  }

  /** Whether direct calls were turned off (the server refused a direct subject). */
  get off(): boolean {
    return this.#off
  }

  /** Whether any direct call got a reply: the server lets this connection publish to instance subjects. */
  get reached(): boolean {
    return this.#reached
  }

  /** The instance for the next call, counted as in flight until `done()`; undefined: use the queue group. */
  pick(): Instance | undefined {
    const list = this.#instances
    const n = list.length
    if (n === 0 || ++this.#calls % this.options.exploreEvery === 0) return undefined
    const start = this.#turn++ % n
    let best = list[start]!
    for (let i = 1; i < n && best.outstanding > 0; i++) {
      const c = list[(start + i) % n]!
      if (c.outstanding < best.outstanding) best = c
    }
    best.outstanding++
    return best
  }

  /** A call to `i` ended; `answered`: with a reply from it. */
  done(i: Instance, answered: boolean): void {
    i.outstanding--
    if (answered) this.#reached = true
  }

  /** A reply through the queue group came from instance `id`. */
  heard(id: string): void {
    if (this.#off) return
    const clock = ++this.#clock
    const known = this.#byId.get(id)
    if (known !== undefined) {
      known.heardAt = clock
      return
    }
    if (!isInstanceId(id)) return
    if (this.#instances.length >= this.options.maxInstances) this.forget(this.#instances.reduce((a, b) => (b.heardAt < a.heardAt ? b : a)))
    const i = new Instance(id)
    i.heardAt = clock
    this.#instances.push(i)
    this.#byId.set(id, i)
  }

  /** Drops `i` (it has gone, failed or missed a deadline); a later reply through the queue group brings it back. */
  forget(i: Instance): void {
    if (i.gone) return
    i.gone = true
    this.#byId.delete(i.id)
    const at = this.#instances.indexOf(i)
    if (at !== -1) this.#instances.splice(at, 1)
  }

  /** No more direct calls: every call goes through the queue group from now on. */
  turnOff(): void {
    this.#off = true
    for (const i of [...this.#instances]) this.forget(i)
  }
}
