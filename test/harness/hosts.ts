import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { childEnv, type NetnsSpawnOptions, spawnInNetns } from './host-process.ts'
import { type Reach, startReach } from './host-reach.ts'
import { DEFAULT_PREFIX, emptyNetns, ip, liveChildren, liveNetns, netnsPids, startReaper, sweepLeftovers, validPrefix } from './netns.ts'
import { ROOT, type SpawnedProcess } from './process.ts'

export { hostsUnavailable, listNetns, skipUnlessHosts, sweepLeftovers } from './netns.ts'

// Simulated hosts (issue 16): N network namespaces on one bridge, the bridge in a namespace of its own, so that
// nothing is added to the machine's own namespace. Addresses come from the benchmarking range 198.18.0.0/15 and
// exist only inside the namespaces made here; everything is removed at the end, also when the test fails, throws
// or is killed. Layout of one run (`<run>` = `<prefix>-<pid>-<n>`):
//
//   netns <run>-sw : bridge br0 198.18.0.254/24, ports h1…hN (one veth end per host), the relay (host-reach.ts)
//   netns <run>-hI : lo, eth0 198.18.0.I/24 (the other end of hI)
//
// Interface names (br0, hI, eth0) live only inside these namespaces, so they never clash between runs.

/** The hosts' subnet, inside the benchmarking range 198.18.0.0/15. */
export const HOSTS_SUBNET = '198.18.0.0/24'
/** The switch namespace's own address (on its bridge): where the test's connections enter the network. */
export const SWITCH_ADDRESS = '198.18.0.254'
/** Host `i`'s address (1-based). */
export const hostAddress = (i: number) => `198.18.0.${i}`
const MAX_HOSTS = 200

/** A result of `exec`. */
export interface ExecResult {
  readonly stdout: string
  readonly stderr: string
}

/** A namespace that runs processes: a host, or the switch. */
export interface Machine {
  /** `h1`…, or `switch`. */
  readonly name: string
  readonly netns: string
  readonly address: string
  /** Runs `command args…` in the namespace to completion; rejects (with its output) when it exits non-zero. */
  exec(command: string, args: readonly string[], opts?: NetnsSpawnOptions): Promise<ExecResult>
  /** Starts `command args…` in the namespace; it is stopped (SIGTERM, then SIGKILL) at teardown at the latest. */
  spawn(command: string, args: readonly string[], opts?: NetnsSpawnOptions): SpawnedProcess
  /** `spawn` of `node --import tsx <args…>` in the repository root, e.g. `['services/worker.ts', 'user']`. */
  node(args: readonly string[], opts?: NetnsSpawnOptions): SpawnedProcess
  /** Whether a TCP connection from this namespace to `address:port` opens within `timeoutMs` (default 2 s). */
  canConnect(address: string, port: number, timeoutMs?: number): Promise<boolean>
  /** The pids of every process in the namespace (spawned here or not). */
  pids(): Promise<number[]>
  /** SIGKILLs every process in the namespace and resolves once none is left: the machine crashed. */
  kill(): Promise<void>
}

/** One simulated host. */
export interface Host extends Machine {
  /** 1-based. */
  readonly index: number
  /** Whether its link to the switch is up. */
  readonly link: 'up' | 'down'
  /** Cuts the host off: its port on the switch (the switch's end of its veth) is set down, as if unplugged. */
  linkDown(): Promise<void>
  /** Plugs it back in. */
  linkUp(): Promise<void>
}

/** The hosts of one test, on one switch. */
export interface Hosts {
  /** The common start of this run's namespace names. */
  readonly run: string
  readonly hosts: readonly Host[]
  /** The switch namespace, a machine too (198.18.0.254): a place for clients that sit on the network. */
  readonly switch: Machine
  /**
   * This run's temp dir (`<tmp>/<run>-XXXX`, one level under the OS temp dir, as test/fixtures/nats-conf.ts's
   * `includeLine` expects of a config's dir): configs and stores go here, and it is removed with the namespaces,
   * by the reaper too.
   */
  readonly dir: string
  /**
   * A port on 127.0.0.1 in the test process that reaches `address:port` from the switch (see host-reach.ts): how
   * the test itself talks to a host's servers. One listener per target, closed at teardown.
   */
  forward(address: string, port: number): Promise<number>
  /** Stops every process, deletes the namespaces (and with them the bridge and veths). Also done at teardown. */
  destroy(): Promise<void>
}

export interface HostsOptions {
  /** The start of every namespace name: a lowercase letter then up to 7 letters or digits (default `sbh`). */
  readonly prefix?: string
}

let runs = 0

class NetnsMachine implements Machine {
  readonly procs = new Set<SpawnedProcess>()
  constructor(
    readonly name: string,
    readonly netns: string,
    readonly address: string,
  ) {}

  exec(command: string, args: readonly string[], opts: NetnsSpawnOptions = {}): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        'ip',
        ['netns', 'exec', this.netns, command, ...args],
        { cwd: opts.cwd ?? ROOT, env: childEnv(opts.env), maxBuffer: 16 << 20 },
        (err, stdout, stderr) => {
          liveChildren.delete(child)
          if (err) reject(new Error(`${this.name}: ${command} ${args.join(' ')} failed (${err.code ?? err.signal}): ${stderr.trim()}`))
          else resolve({ stdout, stderr })
        },
      )
      liveChildren.add(child)
    })
  }

  spawn(command: string, args: readonly string[], opts: NetnsSpawnOptions = {}): SpawnedProcess {
    const p = spawnInNetns(this.netns, command, args, { ...opts, name: opts.name ?? `${this.name}: ${[command, ...args].join(' ')}` })
    this.procs.add(p)
    liveChildren.add(p.child)
    void p.exited.then(() => {
      this.procs.delete(p)
      liveChildren.delete(p.child)
    })
    return p
  }

  node(args: readonly string[], opts: NetnsSpawnOptions = {}): SpawnedProcess {
    return this.spawn(process.execPath, ['--import', 'tsx', ...args], { ...opts, name: opts.name ?? `${this.name}: ${args.join(' ')}` })
  }

  async canConnect(address: string, port: number, timeoutMs = 2_000): Promise<boolean> {
    const script = `const s = require('net').connect(${port}, ${JSON.stringify(address)})
      s.once('connect', () => process.exit(0)); s.once('error', () => process.exit(1)); setTimeout(() => process.exit(2), ${timeoutMs})`
    return this.exec(process.execPath, ['-e', script]).then(
      () => true,
      () => false,
    )
  }

  pids(): Promise<number[]> {
    return netnsPids(this.netns)
  }

  async kill(): Promise<void> {
    for (const p of this.procs) p.child.kill('SIGKILL')
    await emptyNetns(this.netns)
    await Promise.all([...this.procs].map((p) => p.exited))
  }

  /** SIGTERM to what was spawned here, SIGKILL after `graceMs`. */
  async stopAll(graceMs: number): Promise<void> {
    await Promise.all([...this.procs].map((p) => p.stop('SIGTERM', graceMs)))
  }
}

class NetnsHost extends NetnsMachine implements Host {
  #link: 'up' | 'down' = 'up'
  constructor(
    readonly index: number,
    netns: string,
    private readonly switchNetns: string,
  ) {
    super(`h${index}`, netns, hostAddress(index))
  }
  get link() {
    return this.#link
  }
  async linkDown() {
    await ip(['-n', this.switchNetns, 'link', 'set', this.name, 'down'])
    this.#link = 'down'
  }
  async linkUp() {
    await ip(['-n', this.switchNetns, 'link', 'set', this.name, 'up'])
    this.#link = 'up'
  }
}

/**
 * Makes `n` simulated hosts for test `t` (see the top of this file), after sweeping leftovers of crashed runs with
 * the same prefix. Everything is removed at teardown of `t`, by the process 'exit' hook when the test process ends
 * before that, and by a reaper process when it is killed.
 */
export async function makeHosts(t: Test, n: number, opts: HostsOptions = {}): Promise<Hosts> {
  const prefix = opts.prefix ?? DEFAULT_PREFIX
  if (!validPrefix(prefix)) throw new Error(`makeHosts: prefix ${JSON.stringify(prefix)} must be a lowercase letter then up to 7 letters or digits`)
  if (!Number.isInteger(n) || n < 1 || n > MAX_HOSTS) throw new Error(`makeHosts: between 1 and ${MAX_HOSTS} hosts, not ${n}`)
  const swept = sweepLeftovers(prefix)
  if (swept.length > 0) t.comment(`removed what crashed runs left: ${swept.join(', ')}`)

  const run = `${prefix}-${process.pid}-${++runs}`
  const sw = new NetnsMachine('switch', `${run}-sw`, SWITCH_ADDRESS)
  const hosts = Array.from({ length: n }, (_, k) => new NetnsHost(k + 1, `${run}-h${k + 1}`, sw.netns))
  const machines: NetnsMachine[] = [...hosts, sw]
  const dir = mkdtempSync(join(tmpdir(), `${run}-`))
  const reaper = startReaper(
    machines.map((m) => m.netns),
    dir,
  )
  let reach: Promise<Reach> | undefined
  let destroyed: Promise<void> | undefined

  const destroy = async () => {
    const errors: unknown[] = []
    const step = async (f: () => Promise<unknown>) => {
      try {
        await f()
      } catch (err) {
        errors.push(err)
      }
    }
    await step(() => Promise.all(machines.map((m) => m.stopAll(3_000))))
    await step(() => Promise.all(machines.filter((m) => liveNetns.has(m.netns)).map((m) => emptyNetns(m.netns))))
    await step(async () => (await reach?.catch(() => undefined))?.close())
    for (const m of machines) {
      if (liveNetns.has(m.netns)) await step(() => ip(['netns', 'delete', m.netns]).then(() => liveNetns.delete(m.netns)))
    }
    await step(() => reaper.release())
    rmSync(dir, { recursive: true, force: true })
    if (errors.length > 0) throw new AggregateError(errors, `simulated hosts ${run}: cleanup failed`)
  }
  const net: Hosts = {
    run,
    hosts,
    switch: sw,
    dir,
    forward: async (address, port) => {
      reach ??= startReach(sw.netns, dir).then((r) => {
        sw.procs.add(r.relay)
        liveChildren.add(r.relay.child)
        return r
      })
      return (await reach).forward(address, port)
    },
    destroy: () => (destroyed ??= destroy()),
  }
  t.teardown(() => net.destroy())

  try {
    const add = async (ns: string) => {
      liveNetns.add(ns)
      await ip(['netns', 'add', ns])
      await ip(['-n', ns, 'link', 'set', 'lo', 'up'])
    }
    await add(sw.netns)
    const inSw = (...args: string[]) => ip(['-n', sw.netns, ...args])
    await inSw('link', 'add', 'br0', 'type', 'bridge')
    // no IPv6 link-local addresses: 198.18.0.0/15 and loopback only
    await inSw('link', 'set', 'br0', 'addrgenmode', 'none')
    await inSw('addr', 'add', `${SWITCH_ADDRESS}/24`, 'dev', 'br0')
    await inSw('link', 'set', 'br0', 'up')
    for (const h of hosts) {
      await add(h.netns)
      await inSw('link', 'add', h.name, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.netns)
      await inSw('link', 'set', h.name, 'addrgenmode', 'none')
      await ip(['-n', h.netns, 'link', 'set', 'eth0', 'addrgenmode', 'none'])
      await inSw('link', 'set', h.name, 'master', 'br0')
      await inSw('link', 'set', h.name, 'up')
      await ip(['-n', h.netns, 'addr', 'add', `${h.address}/24`, 'dev', 'eth0'])
      await ip(['-n', h.netns, 'link', 'set', 'eth0', 'up'])
    }
  } catch (err) {
    await net.destroy().catch(() => {})
    throw err
  }
  return net
}
