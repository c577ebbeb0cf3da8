import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'

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
