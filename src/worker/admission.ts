import { Backlog } from './backlog.ts'

/** What admission needs to know of a call that waits: its deadline, epoch ms (Infinity without one). */
export interface Queued {
  readonly deadline: number
}

/** Why a call is turned away: every slot and the backlog taken; its deadline passed while it waited; the worker stopped. */
export const Refusal = { full: 'full', expired: 'expired', stopped: 'stopped' } as const
export type Refusal = (typeof Refusal)[keyof typeof Refusal]

/** The limits of one worker. */
export interface AdmissionLimits {
  /** Calls that run at once. */
  readonly maxInFlight: number
  /** Calls that may wait for a slot; 0 refuses every call past `maxInFlight`. */
  readonly maxQueued: number
}

/** What admission asks of its worker: start a call that got a slot, or answer one that will not run. */
export interface AdmissionHooks<T> {
  start(call: T): void
  refuse(call: T, why: Refusal): void
}

/**
 * Admission control of one worker: at most `maxInFlight` calls run; past that up to `maxQueued` wait, first in
 * first out, each keeping its deadline; past both a call is refused at once. When the backlog is full, the calls in
 * it whose deadline has passed (their callers gave up) are refused first, so they never crowd out live ones; deadlines
 * are whole ms, so a full backlog is swept at most once per ms. Knows nothing of NATS.
 */
export class Admission<T extends Queued> {
  #inFlight = 0
  readonly #backlog: Backlog<T>
  #pumping = false
  #sweptAt = 0
  #closed = false
  #idle: (() => void) | undefined = undefined

  constructor(
    readonly limits: AdmissionLimits,
    readonly hooks: AdmissionHooks<T>,
    readonly now: () => number = Date.now,
  ) {
    this.#backlog = new Backlog(limits.maxQueued)
  }

  /** Calls running now. */
  get inFlight(): number {
    return this.#inFlight
  }

  /** Calls waiting for a slot. */
  get queued(): number {
    return this.#backlog.size
  }

  /** Takes a slot for a call that just arrived: true when it may run now (`release()` it when it ends). */
  tryStart(): boolean {
    if (this.#inFlight >= this.limits.maxInFlight) return false
    this.#inFlight++
    return true
  }

  /** Queues a call that found every slot taken; refuses it (`full`) when the backlog is still full after a sweep. */
  enqueue(call: T): void {
    if (this.limits.maxQueued > 0 && (this.#backlog.offer(call) || (this.#sweep() && this.#backlog.offer(call)))) return
    this.hooks.refuse(call, Refusal.full)
  }

  /** A running call ended: frees its slot and starts waiting calls. */
  release(): void {
    this.#inFlight--
    if (this.#backlog.size > 0) this.#pump()
    if (this.#inFlight === 0 && this.#backlog.size === 0) this.#idle?.()
  }

  /** Resolves once no call runs or waits. */
  idle(): Promise<void> {
    if (this.#inFlight === 0 && this.#backlog.size === 0) return Promise.resolve()
    return new Promise((resolve) => (this.#idle = resolve))
  }

  /** Starts no more waiting calls, and refuses (`stopped`) those that wait. */
  close(): void {
    this.#closed = true
    for (const call of this.#backlog.drain()) this.hooks.refuse(call, Refusal.stopped)
  }

  /** Refuses (`expired`) the waiting calls past their deadline; false when the backlog was swept this ms already. */
  #sweep(): boolean {
    const now = this.now()
    if (now === this.#sweptAt) return false
    this.#sweptAt = now
    for (const call of this.#backlog.removeWhere((c) => c.deadline <= now)) this.hooks.refuse(call, Refusal.expired)
    return true
  }

  /** Starts waiting calls while slots are free; a loop, not recursion, when they finish synchronously. */
  #pump(): void {
    if (this.#pumping) return
    this.#pumping = true
    try {
      while (this.#inFlight < this.limits.maxInFlight && !this.#closed) {
        const call = this.#backlog.take()
        if (call === undefined) break
        this.#inFlight++
        this.hooks.start(call)
      }
    } finally {
      this.#pumping = false
    }
  }
}
