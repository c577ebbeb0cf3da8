import { stderrLogger, type Logger } from 'switchboard'
import { DEV_FEED_KEY } from '../shared/position.ts'
import { definedOnly, requirePositiveIntegers } from '../shared/options.ts'
import type { SendRate } from './send-limiter.ts'
import { DEFAULT_ADAPTIVE_LIMIT, resolveAdaptiveLimit, type AdaptiveLimitOptions } from './adaptive-limit.ts'
import { DEFAULT_OPS_OPTIONS, resolveOpsOptions, type OpsOptions } from '../ops/options.ts'
import { DEFAULT_EDGE_LIMITS, resolveEdgeLimits, type EdgeLimitOptions, type ResolvedEdgeLimits } from './edge-limits.ts'
import type { TlsFiles } from './http-listener.ts'
import type { OpsListen } from './ops-listener.ts'

/** Options of a gateway; unset fields take their value from DEFAULT_GATEWAY_OPTIONS. */
export interface GatewayOptions {
  /** TCP port of the HTTP/WebSocket server; 0 picks a free one. */
  readonly port?: number
  /** Address to listen on. Loopback by default. */
  readonly host?: string
  /** Largest client frame answered normally, in bytes; bigger ones get a RESOURCE_EXHAUSTED error frame. */
  readonly maxFrameBytes?: number
  /** Frames bigger than this close the socket (1009) without being read. */
  readonly hardFrameBytes?: number
  /** Calls one socket may have in flight; past it, RESOURCE_EXHAUSTED. */
  readonly maxInFlightPerSocket?: number
  /** Calls of all sockets in flight at once; past it, RESOURCE_EXHAUSTED (429) at once. */
  readonly maxInFlight?: number
  /** Each user's rate of sends, edits, deletes and typing notices on this gateway; past it, RESOURCE_EXHAUSTED (429). */
  readonly sendRate?: SendRate
  /**
   * The adaptive limit on those calls in flight at once, all users together (services/gateway/adaptive-limit.ts):
   * it follows their latency, and past it the gateway refuses at once with RESOURCE_EXHAUSTED (429).
   */
  readonly sendLimit?: AdaptiveLimitOptions
  /** Timeout of a module call made for a client, in ms. */
  readonly callTimeout?: number
  /** How many recently pushed messageIds each session remembers, to never push one twice. */
  readonly seenPerSession?: number
  /** A socket whose unsent data passes this many bytes is closed (1013) rather than buffered without bound. */
  readonly maxBufferedBytes?: number
  /** The key of feed positions (services/shared/position.ts): the same as the message module's. */
  readonly feedKey?: string
  /** Pages of 200 entries a session may catch up at login or resume before it is told to reload from history. */
  readonly maxCatchUpPages?: number
  /** How long close() waits for calls in flight, in ms. */
  readonly stopTimeout?: number
  /** The operations dashboard's data: poll interval, history length... (services/ops/options.ts). */
  readonly ops?: OpsOptions
  /**
   * Where the operations surface listens (the dashboard, `/ops/api`, `/ops/events`, `/metrics`): a listener of its
   * own, on loopback unless told otherwise, never the chat port. False (the default) serves none.
   */
  readonly opsListen?: OpsListen | false
  /** TLS for the chat listener (`wss://`, `https://`) and the ops listener: PEM certificate and key. False: plain. */
  readonly tls?: TlsFiles | false
  /**
   * Origins (`scheme://host[:port]`) whose pages may open a WebSocket, besides the gateway's own page; `['*']` any.
   * Upgrades from other pages get 403. Clients that send no Origin (not browsers) are not checked.
   */
  readonly origins?: readonly string[]
  /** Limits against abuse: sockets in all and per IP, registrations per IP, frames per socket (edge-limits.ts). */
  readonly edge?: EdgeLimitOptions
  readonly logger?: Logger
}

export type ResolvedGatewayOptions = Required<Omit<GatewayOptions, 'edge'>> & { readonly edge: ResolvedEdgeLimits }

export const DEFAULT_GATEWAY_OPTIONS: ResolvedGatewayOptions = {
  port: 8080,
  host: '127.0.0.1',
  maxFrameBytes: 64 * 1024,
  hardFrameBytes: 1024 * 1024,
  maxInFlightPerSocket: 32,
  maxInFlight: 4_096,
  sendRate: { rate: 50, burst: 100 },
  sendLimit: DEFAULT_ADAPTIVE_LIMIT,
  callTimeout: 5_000,
  seenPerSession: 1_024,
  maxBufferedBytes: 4 * 1024 * 1024,
  feedKey: DEV_FEED_KEY,
  maxCatchUpPages: 50,
  stopTimeout: 5_000,
  ops: DEFAULT_OPS_OPTIONS,
  opsListen: false,
  tls: false,
  origins: [],
  edge: DEFAULT_EDGE_LIMITS,
  logger: stderrLogger('warn'),
}

/** Fills unset options from DEFAULT_GATEWAY_OPTIONS; never changes its argument. Throws on nonsense values. */
export function resolveGatewayOptions(options: GatewayOptions = {}): ResolvedGatewayOptions {
  const o = { ...DEFAULT_GATEWAY_OPTIONS, ...(definedOnly(options) as Partial<ResolvedGatewayOptions>) }
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65_535) throw new TypeError(`port must be an integer 0..65535, got ${o.port}`)
  requirePositiveIntegers(o, [
    'maxFrameBytes',
    'hardFrameBytes',
    'maxInFlightPerSocket',
    'maxInFlight',
    'callTimeout',
    'seenPerSession',
    'maxBufferedBytes',
    'maxCatchUpPages',
  ])
  if (o.hardFrameBytes < o.maxFrameBytes) throw new TypeError('hardFrameBytes must be at least maxFrameBytes')
  if (!(o.sendRate.rate > 0 && o.sendRate.burst >= 1)) throw new TypeError(`sendRate needs rate > 0 and burst >= 1, got ${JSON.stringify(o.sendRate)}`)
  o.sendLimit = resolveAdaptiveLimit(o.sendLimit)
  o.ops = resolveOpsOptions(o.ops)
  o.edge = resolveEdgeLimits(o.edge)
  o.origins = o.origins.map((origin) => {
    if (origin !== '*' && !/^https?:\/\/[^/\s]+$/i.test(origin)) throw new TypeError(`origins: '${origin}' is not scheme://host[:port] or *`)
    return origin.toLowerCase()
  })
  if (o.opsListen !== false && !(Number.isInteger(o.opsListen.port) && o.opsListen.port >= 0 && o.opsListen.port <= 65_535)) {
    throw new TypeError(`opsListen.port must be an integer 0..65535, got ${o.opsListen.port}`)
  }
  if (!(o.stopTimeout >= 0)) throw new TypeError(`stopTimeout must be >= 0, got ${o.stopTimeout}`)
  return o
}
