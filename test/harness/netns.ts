import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process'
import { readdirSync, rmSync } from 'node:fs'
import type { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// Network namespaces for the simulated hosts (hosts.ts): `ip` calls, the removal of what a run made (its exit hook,
// the reaper, the sweep of crashed runs' leftovers) and the check that namespaces can be made here.

export const DEFAULT_PREFIX = 'sbh'

// what this process made and has not removed yet: the 'exit' hook removes it (a test that throws or calls exit)
export const liveNetns = new Set<string>()
export const liveChildren = new Set<ChildProcess>()
process.once('exit', () => {
  for (const c of liveChildren) c.kill('SIGKILL')
  for (const ns of liveNetns) removeNetnsSync(ns)
})

export function ip(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('ip', args, (err, stdout, stderr) => (err ? reject(new Error(`ip ${args.join(' ')}: ${stderr.trim() || err.message}`)) : resolve(stdout))),
  )
}

function ipSync(args: readonly string[]): string | undefined {
  try {
    return execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8' })
  } catch {
    return undefined
  }
}

const parsePids = (out: string | undefined) => (out ?? '').split(/\s+/).filter(Boolean).map(Number)

function killPids(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
}

/** Kills everything in `ns` and deletes it, synchronously (exit hook, sweep). */
export function removeNetnsSync(ns: string): void {
  killPids(parsePids(ipSync(['netns', 'pids', ns])))
  ipSync(['netns', 'delete', ns])
  liveNetns.delete(ns)
}

export const netnsPids = async (ns: string) => parsePids(await ip(['netns', 'pids', ns]).catch(() => ''))

/** SIGKILLs every process in `ns` and waits (up to `timeoutMs`) until none is left. */
export async function emptyNetns(ns: string, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const pids = await netnsPids(ns)
    if (pids.length === 0) return
    if (Date.now() > until) throw new Error(`processes ${pids.join(', ')} still run in netns ${ns}`)
    killPids(pids)
    await new Promise((r) => setTimeout(r, 50))
  }
}

export const validPrefix = (prefix: string) => /^[a-z][a-z0-9]{0,7}$/.test(prefix)

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The network namespaces on this machine (`ip netns list`). */
export function listNetns(): string[] {
  return (ipSync(['netns', 'list']) ?? '')
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean)
}

/**
 * Deletes the namespaces (and kills what runs in them) and temp dirs left by earlier runs with `prefix` whose process
 * is gone: a crashed or killed test. Runs of live processes (tests running in parallel) are left alone. Returns what it removed.
 */
export function sweepLeftovers(prefix = DEFAULT_PREFIX): string[] {
  const re = new RegExp(`^${prefix}-(\\d+)-`)
  const swept: string[] = []
  const dead = (name: string) => {
    const pid = Number(re.exec(name)?.[1])
    return Number.isInteger(pid) && pid !== process.pid && !pidAlive(pid)
  }
  for (const ns of listNetns().filter(dead)) {
    removeNetnsSync(ns)
    swept.push(ns)
  }
  for (const name of readdirSync(tmpdir()).filter(dead)) {
    rmSync(join(tmpdir(), name), { recursive: true, force: true })
    swept.push(join(tmpdir(), name))
  }
  return swept
}

/**
 * Why simulated hosts cannot be made here (not Linux, not root, `ip netns add` refused), or undefined when they
 * can: it makes and deletes a probe namespace.
 */
export function hostsUnavailable(prefix = DEFAULT_PREFIX): string | undefined {
  if (process.platform !== 'linux') return `simulated hosts need Linux network namespaces (this is ${process.platform})`
  if (process.getuid?.() !== 0) return 'simulated hosts need root to make network namespaces (ip netns add); CI runs them as root'
  const probe = `${prefix}-${process.pid}-probe`
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' })
  } catch (err) {
    const e = err as { stderr?: string; message: string }
    return `ip netns add does not work here: ${(e.stderr || e.message).trim()}`
  }
  removeNetnsSync(probe)
  return undefined
}

/**
 * For tap's `skip`: false when hosts can be made, else the reason. With SWITCHBOARD_HOSTS_REQUIRED=1 (CI as root)
 * a reason is an error instead: there the tests must run.
 */
export function skipUnlessHosts(prefix = DEFAULT_PREFIX): string | false {
  const reason = hostsUnavailable(prefix)
  if (reason === undefined) return false
  if (process.env.SWITCHBOARD_HOSTS_REQUIRED === '1') throw new Error(`simulated hosts are required (SWITCHBOARD_HOSTS_REQUIRED=1), but ${reason}`)
  return reason
}

/**
 * A process outside the test that removes the namespaces once the test process is gone however it ended (SIGKILL,
 * tap's timeout): it waits for EOF on a pipe from the test process. `release()` ends it after a clean teardown.
 */
export function startReaper(namespaces: readonly string[], dir: string): { release(): Promise<void> } {
  const script = [
    "trap '' INT TERM HUP",
    'read -r _ || true',
    'for ns in "$@"; do',
    '  pids=$(ip netns pids "$ns" 2>/dev/null) && [ -n "$pids" ] && kill -9 $pids 2>/dev/null',
    '  ip netns delete "$ns" 2>/dev/null',
    'done',
    'rm -rf "$REAPER_DIR"',
    'exit 0',
  ].join('\n')
  const child = spawn('sh', ['-c', script, 'reaper', ...namespaces], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
    env: { PATH: process.env.PATH, REAPER_DIR: dir },
  })
  child.unref()
  ;(child.stdin as unknown as Socket).unref()
  child.on('error', () => {})
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return {
    async release() {
      child.stdin?.end()
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
    },
  }
}
