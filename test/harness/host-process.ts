import { spawn } from 'node:child_process'
import { ROOT, type SpawnedProcess } from './process.ts'

/** How a process is started inside a network namespace. */
export interface NetnsSpawnOptions {
  /** Added to the test's environment (tap's own variables removed); an `undefined` value removes a variable. */
  readonly env?: Record<string, string | undefined>
  /** Working directory (default: the repository root). */
  readonly cwd?: string
  /** The name in messages (default: the command line). */
  readonly name?: string
}

const MAX_OUTPUT = 200_000

/** The environment of a child: the test's, without tap's loader hooks and variables, plus `env`. */
export function childEnv(env: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
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
 * Runs `command args…` inside the network namespace `netns` (`ip netns exec <netns> command args…`; `ip` execs the
 * command, so the child's pid is the command's). stdout and stderr are kept (bounded) for `output()`/`waitFor()`.
 * Nothing stops it by itself: the caller (hosts.ts) tracks it and stops it at teardown.
 */
export function spawnInNetns(netns: string, command: string, args: readonly string[], opts: NetnsSpawnOptions = {}): SpawnedProcess {
  const name = opts.name ?? [command, ...args].join(' ')
  const child = spawn('ip', ['netns', 'exec', netns, command, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: childEnv(opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const waiters = new Set<() => void>()
  const append = (d: Buffer) => {
    if (output.length < MAX_OUTPUT) output += d.toString()
    for (const w of waiters) w()
  }
  child.stdout!.on('data', append)
  child.stderr!.on('data', append)
  let failed = false
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      for (const w of waiters) w()
      resolve(code)
    })
    // a spawn failure (no `ip`) emits no 'exit'
    child.once('error', (err) => {
      failed = true
      append(Buffer.from(`spawn failed: ${err.message}\n`))
      resolve(null)
    })
  })
  const ended = () => failed || child.exitCode !== null || child.signalCode !== null
  return {
    name,
    child,
    output: () => output,
    exited,
    waitFor(re, timeoutMs = 30_000) {
      return new Promise<string>((resolve, reject) => {
        const check = () => {
          const line = output.split('\n').find((l) => re.test(l))
          if (line !== undefined) return done(() => resolve(line))
          if (ended())
            return done(() => reject(new Error(`${name} (netns ${netns}) exited (${child.exitCode ?? child.signalCode}) before printing ${re}:\n${output}`)))
        }
        const timer = setTimeout(
          () => done(() => reject(new Error(`${name} (netns ${netns}) did not print ${re} within ${timeoutMs} ms:\n${output}`))),
          timeoutMs,
        )
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
      if (ended() || child.pid === undefined) return exited
      child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      const code = await exited
      clearTimeout(timer)
      return code
    },
  }
}
