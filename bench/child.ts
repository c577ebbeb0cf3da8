import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** A bench process spawned by a script: TypeScript run through tsx, talking over the IPC channel. */
export interface Child {
  readonly name: string
  readonly pid: number
  /** Sends a command and resolves with the child's answer to it. */
  ask<T = unknown>(command: Record<string, unknown>, timeoutMs?: number): Promise<T>
  /** Ends the process (SIGTERM, then SIGKILL after a grace period). */
  stop(): Promise<void>
}

/** How long a child may take to become ready or to answer one command. */
export const DEFAULT_CHILD_TIMEOUT_MS = 120_000
const STOP_GRACE_MS = 3_000

const children = new Set<ChildProcess>()
const cleanups: (() => Promise<void>)[] = []
let exiting = false

/** Registers work to do when the script ends, fails or is interrupted (stopping nats-server, for instance). */
export function onCleanup(fn: () => Promise<void>): void {
  cleanups.push(fn)
}

/** Stops every child and runs the cleanups; safe to call more than once. */
export async function cleanupAll(): Promise<void> {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM')
  await Promise.all(
    [...children].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve()
          const t = setTimeout(() => c.kill('SIGKILL'), STOP_GRACE_MS)
          c.once('exit', () => {
            clearTimeout(t)
            resolve()
          })
        }),
    ),
  )
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined)
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    if (exiting) return
    exiting = true
    process.stderr.write(`\n${sig}: stopping bench processes\n`)
    void cleanupAll().finally(() => process.exit(130))
  })
}
process.once('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
})

/**
 * Runs `main`, then stops everything it started, also when it throws.
 * Exits non-zero on error.
 */
export async function runScript(main: () => Promise<void>): Promise<void> {
  try {
    await main()
  } catch (err) {
    process.exitCode = 1
    console.error(err)
  } finally {
    await cleanupAll()
  }
}

/**
 * Spawns a program of the repo (`node --import tsx <file> <args>`, cwd = repo root) that prints a line matching
 * `ready` once it serves; its output is kept (last 20 kB) for the error message if it exits early. Resolves with its pid.
 */
export async function spawnService(
  name: string,
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: RegExp,
  nodeArgs: string[] = [],
): Promise<number> {
  const root = fileURLToPath(new URL('../', import.meta.url))
  const proc = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', file, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(proc)
  proc.once('exit', () => children.delete(proc))
  let out = ''
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${name} not serving within ${DEFAULT_CHILD_TIMEOUT_MS} ms\n${out}`)), DEFAULT_CHILD_TIMEOUT_MS)
    const onData = (d: Buffer) => {
      if (out.length < 20_000) out += d.toString()
      if (ready.test(out)) {
        clearTimeout(t)
        resolve()
      }
    }
    proc.stdout!.on('data', onData)
    proc.stderr!.on('data', onData)
    proc.once('exit', (code) => {
      clearTimeout(t)
      reject(new Error(`${name} exited (${code})\n${out}`))
    })
  })
  return proc.pid!
}

/**
 * Spawns `node --import tsx <file> <args>` with an IPC channel and waits for its `ready` message.
 * `file` is relative to bench/.
 */
export async function spawnChild(name: string, file: string, args: string[] = [], nodeArgs: string[] = []): Promise<Child> {
  const path = fileURLToPath(new URL(file, import.meta.url))
  const proc = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', path, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  children.add(proc)
  proc.once('exit', () => children.delete(proc))
  let seq = 0
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  const ready = new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${name} not ready within ${DEFAULT_CHILD_TIMEOUT_MS} ms`)), DEFAULT_CHILD_TIMEOUT_MS)
    proc.on('message', (m: { type: string; id?: number; data?: unknown; error?: string }) => {
      if (m.type === 'ready') {
        clearTimeout(t)
        resolve()
      } else if (m.id !== undefined) {
        const w = waiting.get(m.id)
        waiting.delete(m.id)
        if (m.type === 'error') w?.reject(new Error(`${name}: ${m.error}`))
        else w?.resolve(m.data)
      }
    })
    proc.once('exit', (code, signal) => {
      clearTimeout(t)
      const err = new Error(`${name} exited (${code ?? signal})`)
      reject(err)
      for (const w of waiting.values()) w.reject(err)
      waiting.clear()
    })
  })
  await ready
  return {
    name,
    pid: proc.pid!,
    ask<T>(command: Record<string, unknown>, timeoutMs = DEFAULT_CHILD_TIMEOUT_MS): Promise<T> {
      const id = ++seq
      return new Promise<T>((resolve, reject) => {
        const t = setTimeout(() => {
          waiting.delete(id)
          reject(new Error(`${name} did not answer ${JSON.stringify(command).slice(0, 80)} within ${timeoutMs} ms`))
        }, timeoutMs)
        waiting.set(id, {
          resolve: (v) => (clearTimeout(t), resolve(v as T)),
          reject: (e) => (clearTimeout(t), reject(e)),
        })
        proc.send({ ...command, id })
      })
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve()
        const t = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS)
        proc.once('exit', () => {
          clearTimeout(t)
          resolve()
        })
        proc.kill('SIGTERM')
      }),
  }
}
