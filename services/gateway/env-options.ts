import { readFileSync } from 'node:fs'
import type { GatewayOptions } from './options.ts'
import type { SendRate } from './send-limiter.ts'

/** The port of the ops listener a gateway process opens unless GATEWAY_OPS_PORT says otherwise. */
export const DEFAULT_OPS_PORT = 8081

type Env = Readonly<Record<string, string | undefined>>
type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/**
 * The gateway options a process's environment sets (docs/operate.md lists them); throws a clear error naming the
 * variable on a bad value. Reads the TLS files GATEWAY_TLS_CERT and GATEWAY_TLS_KEY name.
 *
 * - GATEWAY_PORT (default 8080), GATEWAY_HOST (default 127.0.0.1)
 * - GATEWAY_OPS_PORT (default 8081; `off`: no ops listener), GATEWAY_OPS_HOST (default 127.0.0.1),
 *   GATEWAY_OPS_HOSTNAMES (comma-separated names it answers to besides loopback ones and GATEWAY_OPS_HOST)
 * - GATEWAY_TLS_CERT, GATEWAY_TLS_KEY: PEM files, both or neither
 * - GATEWAY_ORIGINS: comma-separated origins whose pages may connect, besides the gateway's own (`*`: any)
 * - GATEWAY_MAX_IN_FLIGHT, GATEWAY_SEND_RATE (`<per second>` or `<per second>/<burst>`), GATEWAY_FRAME_RATE (same)
 * - GATEWAY_MAX_SESSIONS, GATEWAY_MAX_CONNECTIONS_PER_IP, GATEWAY_REGISTRATIONS_PER_HOUR
 * - SWITCHBOARD_FEED_KEY
 */
export function gatewayOptionsFromEnv(env: Env): GatewayOptions {
  const o: Mutable<GatewayOptions> = { port: port(env, 'GATEWAY_PORT') ?? 8080 }
  if (env.GATEWAY_HOST) o.host = env.GATEWAY_HOST
  const hostnames = (env.GATEWAY_OPS_HOSTNAMES ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
  o.opsListen =
    env.GATEWAY_OPS_PORT === 'off'
      ? false
      : { port: port(env, 'GATEWAY_OPS_PORT') ?? DEFAULT_OPS_PORT, host: env.GATEWAY_OPS_HOST || '127.0.0.1', ...(hostnames.length > 0 ? { hostnames } : {}) }
  if (Boolean(env.GATEWAY_TLS_CERT) !== Boolean(env.GATEWAY_TLS_KEY)) throw new Error('GATEWAY_TLS_CERT and GATEWAY_TLS_KEY go together: set both or neither')
  if (env.GATEWAY_TLS_CERT && env.GATEWAY_TLS_KEY) o.tls = { cert: file(env, 'GATEWAY_TLS_CERT'), key: file(env, 'GATEWAY_TLS_KEY') }
  if (env.GATEWAY_ORIGINS) {
    o.origins = env.GATEWAY_ORIGINS.split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0)
  }
  const maxInFlight = positive(env, 'GATEWAY_MAX_IN_FLIGHT')
  if (maxInFlight !== undefined) o.maxInFlight = maxInFlight
  const sendRate = rate(env, 'GATEWAY_SEND_RATE')
  if (sendRate !== undefined) o.sendRate = sendRate
  const edge = {
    maxSessions: positive(env, 'GATEWAY_MAX_SESSIONS'),
    maxConnectionsPerIp: positive(env, 'GATEWAY_MAX_CONNECTIONS_PER_IP'),
    registrationsPerIpPerHour: positive(env, 'GATEWAY_REGISTRATIONS_PER_HOUR'),
    frameRate: rate(env, 'GATEWAY_FRAME_RATE'),
  }
  if (Object.values(edge).some((v) => v !== undefined)) o.edge = edge
  if (env.SWITCHBOARD_FEED_KEY) o.feedKey = env.SWITCHBOARD_FEED_KEY
  return o
}

function port(env: Env, name: string): number | undefined {
  const raw = env[name]
  if (raw === undefined || raw === '') return undefined
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new Error(`${name} must be a port number, got '${raw}'`)
  return n
}

function positive(env: Env, name: string): number | undefined {
  const raw = env[name]
  if (raw === undefined || raw === '') return undefined
  const n = Number(raw)
  if (!(Number.isInteger(n) && n > 0)) throw new Error(`${name} must be a positive integer, got '${raw}'`)
  return n
}

function rate(env: Env, name: string): SendRate | undefined {
  const raw = env[name]
  if (raw === undefined || raw === '') return undefined
  const m = /^(\d+(?:\.\d+)?)(?:\/(\d+))?$/.exec(raw)
  if (m === null || !(Number(m[1]) > 0)) throw new Error(`${name} must be '<per second>' or '<per second>/<burst>', got '${raw}'`)
  const r = Number(m[1])
  return { rate: r, burst: m[2] === undefined ? Math.max(1, Math.ceil(r * 2)) : Math.max(1, Number(m[2])) }
}

function file(env: Env, name: string): Buffer {
  try {
    return readFileSync(env[name]!)
  } catch (err) {
    throw new Error(`${name}: cannot read '${env[name]}': ${(err as Error).message}`)
  }
}
