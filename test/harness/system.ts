import type { NatsConnection } from '@nats-io/nats-core'
import type { Test } from 'tap'
import { client, type Client } from 'switchboard'
import { MODULE_NAMES, MODULES, type ContractOf, type ModuleName } from '../../services/registry.ts'

import { spawnProcess, type SpawnedProcess } from './process.ts'

export { ROOT, spawnProcess, type SpawnedProcess } from './process.ts'

export interface SystemOptions {
  /** NATS_URL of the workers (comma-separated list allowed). */
  readonly natsUrl: string
  /** Processes per module (default 1). */
  readonly copies?: number
  /** Which modules to start (default all). */
  readonly modules?: readonly ModuleName[]
  /** Extra environment of every worker, e.g. SWITCHBOARD_ADMIN_PASSWORD. */
  readonly env?: Record<string, string | undefined>
  /** How long to wait for every worker's "serving" line, in ms (default 60 s). */
  readonly timeoutMs?: number
}

/** The chat modules running as worker processes. */
export interface ChatSystem {
  /** The processes of each module started, `copies` per module. */
  readonly workers: Readonly<Partial<Record<ModuleName, readonly SpawnedProcess[]>>>
  /** Starts one more copy of `module` and waits until it serves. */
  add(module: ModuleName): Promise<SpawnedProcess>
  /** Stops every worker (SIGTERM) and resolves with their exit codes. Also done at teardown. */
  stop(): Promise<(number | null)[]>
}

/**
 * Starts `copies` worker processes of each chat module (`node --import tsx services/worker.ts <module>`) against
 * `natsUrl`, and resolves once every one printed its "serving" line. Everything is stopped at teardown of `t`.
 */
export async function startSystem(t: Test, options: SystemOptions): Promise<ChatSystem> {
  const copies = options.copies ?? 1
  const modules = options.modules ?? MODULE_NAMES
  // the dev seeds (config/dev-creds), whatever the shell that runs the tests has set
  const env = {
    NATS_URL: options.natsUrl,
    SWITCHBOARD_CREDS_DIR: undefined,
    NATS_USER: undefined,
    NATS_PASS: undefined,
    NATS_READS_USER: undefined,
    NATS_READS_PASS: undefined,
    ...options.env,
  }
  const workers: Partial<Record<ModuleName, SpawnedProcess[]>> = {}
  let n = 0
  const add = async (module: ModuleName) => {
    const p = spawnProcess(t, ['services/worker.ts', module], env, `${module}#${++n}`)
    ;(workers[module] ??= []).push(p)
    await p.waitFor(/serving/, options.timeoutMs ?? 60_000)
    return p
  }
  await Promise.all(modules.flatMap((m) => Array.from({ length: copies }, () => add(m))))
  return {
    workers,
    add,
    stop: () =>
      Promise.all(
        Object.values(workers)
          .flat()
          .map((p) => p.stop()),
      ),
  }
}

/** A typed client of every chat module in the registry, by module name. */
export type ChatClients = { readonly [N in ModuleName]: Client<ContractOf<N>> }

/** Typed clients of every chat module, sending `Authorization: Bearer <token>` when a token is given. */
export function chatClients(nc: NatsConnection, token?: string, timeout = 5_000): ChatClients {
  const headers: Record<string, string> = token === undefined ? {} : { Authorization: `Bearer ${token}` }
  const opts = { timeout, headers }
  return Object.fromEntries(MODULE_NAMES.map((name) => [name, client(nc, MODULES[name].contract, opts)])) as unknown as ChatClients
}

/** A registered, logged-in user of a test, with clients that carry its session. */
export interface TestUser extends ChatClients {
  readonly username: string
  readonly userId: string
  readonly token: string
}

/** Registers `username` (password `<username>-password`), logs in, and returns clients that carry the session. */
export async function signUp(nc: NatsConnection, username: string, password = `${username}-password`): Promise<TestUser> {
  const anon = chatClients(nc)
  await anon.user.register({ username, password })
  return logIn(nc, username, password)
}

/** Logs in an existing user and returns clients that carry the session. */
export async function logIn(nc: NatsConnection, username: string, password = `${username}-password`): Promise<TestUser> {
  const { token, userId } = await chatClients(nc).user.login({ username, password })
  return { ...chatClients(nc, token), username, userId, token }
}

/** The gateway's environment without its abuse limits, for load from one address (tests, benchmarks). */
export const UNLIMITED_EDGE = {
  GATEWAY_MAX_CONNECTIONS_PER_IP: '1000000',
  GATEWAY_REGISTRATIONS_PER_HOUR: '1000000',
  GATEWAY_FRAME_RATE: '1000000/1000000',
} as const

/** A gateway process (`services/gateway/main.ts`) on a free port, against `natsUrl`; stopped at teardown. */
export async function startGatewayProcess(t: Test, natsUrl: string, env: Record<string, string | undefined> = {}, name = 'gateway') {
  // delivery tests send hundreds of messages from one user at once, far past a person's rate, and open many
  // sockets from one address: those limits are lifted unless a test sets them (test/gateway/overload.test.ts and
  // test/gateway/edge.test.ts test them); the ops listener takes a free port
  const base = {
    NATS_URL: natsUrl,
    SWITCHBOARD_CREDS_DIR: undefined,
    NATS_USER: undefined,
    NATS_PASS: undefined,
    NATS_FEED_USER: undefined,
    NATS_FEED_PASS: undefined,
    GATEWAY_PORT: '0',
    GATEWAY_OPS_PORT: '0',
    GATEWAY_SEND_RATE: '100000/100000',
    ...UNLIMITED_EDGE,
  }
  const proc = spawnProcess(t, ['services/gateway/main.ts'], { ...base, ...env }, name)
  const line = await proc.waitFor(/gateway serving ws:\/\//, 60_000)
  return { proc, url: /ws:\/\/\S+/.exec(line)![0] }
}
