import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { NatsConnection } from '@nats-io/nats-core'
import type { Test } from 'tap'
import { client } from '../../src/index.ts'
import { Admin } from '../../services/admin/contract.ts'
import { Friend } from '../../services/friend/contract.ts'
import { Group } from '../../services/group/contract.ts'
import { MessageService } from '../../services/message/contract.ts'
import { MODULE_NAMES, type ModuleName } from '../../services/shared/modules.ts'
import { User } from '../../services/user/contract.ts'

/** The repository root: child processes run there. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** A child process started by a test; stopped at teardown. */
export interface SpawnedProcess {
  readonly name: string
  readonly child: ChildProcess
  /** stdout and stderr so far (bounded). */
  output(): string
  /** Resolves with the first output line matching `re` (already printed or still to come); rejects on exit or timeout. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>
  /** Resolves when the process exits, with its exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>
  /** Sends `signal` (SIGTERM by default), SIGKILL after `graceMs`, and resolves with the exit code. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>
}

const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL')
})

const MAX_OUTPUT = 200_000

/** The environment of a child: the test's, without tap's loader hooks, plus `env`. */
function childEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (k === 'NODE_OPTIONS' || k.startsWith('TAP') || k.startsWith('_TAP')) continue
    out[k] = v
  }
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete out[k]
    else out[k] = v
  }
  return out
}

/**
 * Spawns `node --import tsx <args...>` in the repository root (e.g. `['services/worker.ts', 'user']`) with the test's
 * environment plus `env` (an `undefined` value removes a variable). The process is stopped (SIGTERM, then SIGKILL)
 * at teardown of `t`.
 */
export function spawnProcess(t: Test, args: readonly string[], env: Record<string, string | undefined> = {}, name = args.join(' ')): SpawnedProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
  live.add(child)
  let output = ''
  const waiters = new Set<() => void>()
  const append = (d: Buffer) => {
    if (output.length < MAX_OUTPUT) output += d.toString()
    for (const w of waiters) w()
  }
  child.stdout!.on('data', append)
  child.stderr!.on('data', append)
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      live.delete(child)
      for (const w of waiters) w()
      resolve(code)
    }),
  )
  const proc: SpawnedProcess = {
    name,
    child,
    output: () => output,
    exited,
    waitFor(re, timeoutMs = 30_000) {
      return new Promise<string>((resolve, reject) => {
        const check = () => {
          const line = output.split('\n').find((l) => re.test(l))
          if (line !== undefined) return done(() => resolve(line))
          if (child.exitCode !== null || child.signalCode !== null) {
            return done(() => reject(new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before printing ${re}:\n${output}`)))
          }
        }
        const timer = setTimeout(() => done(() => reject(new Error(`${name} did not print ${re} within ${timeoutMs} ms:\n${output}`))), timeoutMs)
        const done = (f: () => void) => {
          clearTimeout(timer)
          waiters.delete(check)
          f()
        }
        waiters.add(check)
        check()
      })
    },
    async stop(signal = 'SIGTERM', graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
      child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      const code = await exited
      clearTimeout(timer)
      return code
    },
  }
  t.teardown(() => proc.stop())
  return proc
}

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
  const env = { NATS_URL: options.natsUrl, NATS_USER: undefined, NATS_PASS: undefined, ...options.env }
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
    stop: () => Promise.all(Object.values(workers).flat().map((p) => p.stop())),
  }
}

/** Typed clients of every chat module, sending `Authorization: Bearer <token>` when a token is given. */
export function chatClients(nc: NatsConnection, token?: string, timeout = 5_000) {
  const headers: Record<string, string> = token === undefined ? {} : { Authorization: `Bearer ${token}` }
  const opts = { timeout, headers }
  return {
    user: client(nc, User, opts),
    friend: client(nc, Friend, opts),
    group: client(nc, Group, opts),
    message: client(nc, MessageService, opts),
    admin: client(nc, Admin, opts),
  }
}
export type ChatClients = ReturnType<typeof chatClients>

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
