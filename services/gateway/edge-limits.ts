import { definedOnly, requirePositiveIntegers } from '../shared/options.ts'
import { refusal, SendLimiter, type Refusal, type SendRate } from './send-limiter.ts'

/** Limits of one gateway against abuse, before any module is asked; unset fields take DEFAULT_EDGE_LIMITS. */
export interface EdgeLimitOptions {
  /** Sockets open at once on this gateway; past it a WebSocket upgrade gets 503. */
  readonly maxSessions?: number
  /** Sockets open at once from one IP address; past it an upgrade gets 429. */
  readonly maxConnectionsPerIp?: number
  /** `user.register` calls one IP address may make per hour (bursts of the same size); past it, 429 frames. */
  readonly registrationsPerIpPerHour?: number
  /** Frames one socket may send: `rate` per second sustained, bursts of `burst`; past it, 429 frames. */
  readonly frameRate?: SendRate
}

export type ResolvedEdgeLimits = Required<EdgeLimitOptions>

export const DEFAULT_EDGE_LIMITS: ResolvedEdgeLimits = {
  maxSessions: 20_000,
  maxConnectionsPerIp: 64,
  registrationsPerIpPerHour: 20,
  frameRate: { rate: 200, burst: 400 },
}

/** Fills unset limits from DEFAULT_EDGE_LIMITS; throws on nonsense values. Pure. */
export function resolveEdgeLimits(options: EdgeLimitOptions = {}): ResolvedEdgeLimits {
  const o: ResolvedEdgeLimits = { ...DEFAULT_EDGE_LIMITS, ...definedOnly(options) }
  requirePositiveIntegers(o, ['maxSessions', 'maxConnectionsPerIp', 'registrationsPerIpPerHour'], (key) => `edge.${key}`)
  if (!(o.frameRate.rate > 0 && o.frameRate.burst >= 1)) throw new TypeError(`edge.frameRate needs rate > 0 and burst >= 1, got ${JSON.stringify(o.frameRate)}`)
  return o
}

/** Which edge limit turned something away: the label of its counter. */
export const EdgeLimit = {
  origin: 'origin',
  sessions: 'sessions',
  connectionsPerIp: 'connections_per_ip',
  registrationsPerIp: 'registrations_per_ip',
  framesPerSocket: 'frames_per_socket',
} as const
export type EdgeLimit = (typeof EdgeLimit)[keyof typeof EdgeLimit]

/** A WebSocket upgrade turned away: the HTTP status and the text of the answer. */
export interface UpgradeRefusal {
  readonly limit: EdgeLimit
  readonly status: 403 | 429 | 503
  readonly message: string
}

/** One socket's frame budget: a token bucket. */
export class FrameBudget {
  #tokens: number
  #at: number

  constructor(
    readonly rate: SendRate,
    readonly now: () => number = performance.now.bind(performance),
  ) {
    this.#tokens = rate.burst
    this.#at = now()
  }

  /** Takes one frame's token: undefined when there was one, else the refusal of the frame. */
  take(): Refusal | undefined {
    const now = this.now()
    this.#tokens = Math.min(this.rate.burst, this.#tokens + ((now - this.#at) * this.rate.rate) / 1000)
    this.#at = now
    if (this.#tokens >= 1) {
      this.#tokens -= 1
      return undefined
    }
    const retryAfterMs = Math.ceil(((1 - this.#tokens) * 1000) / this.rate.rate)
    return refusal(`over ${this.rate.rate} frames/s on this socket (bursts of ${this.rate.burst}): retry in ${retryAfterMs} ms`, retryAfterMs)
  }
}

/**
 * The connection and registration accounting of one gateway: sockets per IP and in all, registrations per IP. Cheap
 * by design: a refusal is a map lookup and a short answer, no module is asked.
 */
export class EdgeLimits {
  readonly #perIp = new Map<string, number>()
  readonly #registrations: SendLimiter
  #sessions = 0

  constructor(
    readonly limits: ResolvedEdgeLimits,
    now: () => number = performance.now.bind(performance),
  ) {
    const burst = limits.registrationsPerIpPerHour
    this.#registrations = new SendLimiter({ rate: burst / 3_600, burst }, now, (call, retryAfterMs) => {
      return `${call}: over ${burst} registrations per hour from this address: retry in ${Math.ceil(retryAfterMs / 1000)} s`
    })
  }

  /** Counts a new socket from `ip`, or says why it may not open (nothing is counted then). */
  open(ip: string): UpgradeRefusal | undefined {
    if (this.#sessions >= this.limits.maxSessions) {
      return { limit: EdgeLimit.sessions, status: 503, message: `the gateway holds its maximum of ${this.limits.maxSessions} sockets: try another or later` }
    }
    const n = this.#perIp.get(ip) ?? 0
    if (n >= this.limits.maxConnectionsPerIp) {
      return { limit: EdgeLimit.connectionsPerIp, status: 429, message: `over ${this.limits.maxConnectionsPerIp} sockets open from ${ip}: close some first` }
    }
    this.#perIp.set(ip, n + 1)
    this.#sessions++
    return undefined
  }

  /** A socket `open` counted has closed. */
  close(ip: string): void {
    const n = this.#perIp.get(ip) ?? 0
    if (n === 0) return
    if (n === 1) this.#perIp.delete(ip)
    else this.#perIp.set(ip, n - 1)
    this.#sessions--
  }

  /** Takes one registration of `ip`: undefined when allowed, else the refusal of the call. */
  register(ip: string, call: string): Refusal | undefined {
    return this.#registrations.take(ip, call)
  }

  /** Sockets counted now. */
  get sessions(): number {
    return this.#sessions
  }
}
