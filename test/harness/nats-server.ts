import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, connect as tcpConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A nats-server started by a test: loopback port, temp JetStream store, stopped by `stop()`. */
export interface NatsServer {
  readonly port: number
  readonly url: string
  readonly monitorPort: number
  readonly dir: string
  readonly name: string
  /** The server process's pid (undefined while it is not running). */
  readonly pid: number | undefined
  /** Stops the process (SIGTERM, then SIGKILL) and, unless `keepStore`, removes its temp dir. */
  stop(opts?: { keepStore?: boolean }): Promise<void>
  /** Kills the process at once (SIGKILL), keeping its store. */
  kill(): Promise<void>
  /** Starts it again on the same port and store. */
  restart(): Promise<void>
  /** What the server printed (its log, on stderr) since it last started; the first 20,000 characters. */
  log(): string
  /** Has the server reload its config (SIGHUP) and resolves once it says it did; rejects when it says it failed. */
  reload(): Promise<void>
}

export interface ServerOptions {
  /** Extra config text appended to the generated config (accounts, authorization, tls…). */
  readonly extra?: string
  readonly jetstream?: boolean
  readonly name?: string
  /** Cluster block, written verbatim. */
  readonly cluster?: string
  readonly port?: number
  readonly dir?: string
}

const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL')
})

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    })
  })
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port })
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** Starts one nats-server on loopback with a temp JetStream store. */
export async function startServer(opts: ServerOptions = {}): Promise<NatsServer> {
  let port = opts.port ?? (await freePort())
  let monitorPort = await freePort()
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'switchboard-nats-')))
  const name = opts.name ?? `test-${port}`
  const conf = join(dir, 'nats.conf')
  const writeConf = () =>
    writeFile(
      conf,
      [
        `server_name: ${name}`,
        `listen: 127.0.0.1:${port}`,
        `http: 127.0.0.1:${monitorPort}`,
        opts.jetstream === false ? '' : `jetstream { store_dir: "${join(dir, 'js')}" }`,
        opts.cluster ?? '',
        opts.extra ?? '',
      ].join('\n'),
    )
  let proc: ChildProcess | undefined
  let stderr = ''
  const launch = async () => {
    stderr = ''
    const p = spawn(process.env.NATS_SERVER || 'nats-server', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] })
    proc = p
    live.add(p)
    p.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < 20_000) stderr += d.toString()
    })
    p.once('exit', () => live.delete(p))
    try {
      await waitFor(async () => {
        if (p.exitCode !== null || p.signalCode !== null) {
          // its last words (why it exited) may still be on the way
          if (!p.stderr!.closed) await new Promise((r) => p.stderr!.once('close', r))
          throw new Error(`nats-server on ${port} exited`)
        }
        return portOpen(port)
      }, `nats-server on ${port}`)
    } catch (err) {
      p.kill('SIGKILL')
      throw new Error(`${(err as Error).message}\n${stderr}`)
    }
  }
  const halt = async (signal: NodeJS.Signals) => {
    const p = proc
    if (p === undefined || p.exitCode !== null || p.signalCode !== null) return
    const exited = new Promise((r) => p.once('exit', r))
    p.kill(signal)
    const t = setTimeout(() => p.kill('SIGKILL'), 5_000)
    await exited
    clearTimeout(t)
  }
  // a port picked free may be taken by a parallel test before nats-server binds it: pick again, a few times
  for (let attempt = 1; ; attempt++) {
    await writeConf()
    try {
      await launch()
      break
    } catch (err) {
      if (attempt >= 3 || !stderr.includes('address already in use')) throw err
      if (opts.port === undefined) port = await freePort()
      monitorPort = await freePort()
    }
  }
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    monitorPort,
    dir,
    name,
    get pid() {
      return proc?.exitCode === null && proc.signalCode === null ? proc.pid : undefined
    },
    async stop({ keepStore = false } = {}) {
      await halt('SIGTERM')
      if (!keepStore && opts.dir === undefined) await rm(dir, { recursive: true, force: true })
    },
    kill: () => halt('SIGKILL'),
    async restart() {
      await halt('SIGTERM')
      await launch()
    },
    log: () => stderr,
    async reload() {
      const count = (re: RegExp) => stderr.match(re)?.length ?? 0
      const [ok, failed] = [/Reloaded server configuration/g, /Failed to reload|configuration reload failed/gi]
      const [okBefore, failedBefore] = [count(ok), count(failed)]
      proc?.kill('SIGHUP')
      await waitFor(async () => {
        if (count(failed) > failedBefore) throw new Error(`nats-server on ${port} did not reload:\n${stderr}`)
        return count(ok) > okBefore
      }, `nats-server on ${port} to reload`)
    },
  }
}

/** Three nats-servers clustered on loopback, each with its own JetStream store. */
export interface NatsCluster {
  readonly servers: readonly NatsServer[]
  readonly urls: string[]
  stop(): Promise<void>
}

/** Starts a three-server cluster (JetStream on every node) and waits until routes and a JetStream leader are up. */
export async function startCluster(size = 3, opts: { extra?: string } = {}): Promise<NatsCluster> {
  const clusterPorts = await Promise.all(Array.from({ length: size }, freePort))
  const clusterName = `sb${clusterPorts[0]}`
  const routes = clusterPorts.map((p) => `nats-route://127.0.0.1:${p}`).join(', ')
  const servers = await Promise.all(
    clusterPorts.map((cp, i) =>
      startServer({
        name: `${clusterName}-n${i + 1}`,
        extra: opts.extra,
        cluster: `cluster { name: ${clusterName}, listen: 127.0.0.1:${cp}, routes: [${routes}] }`,
      }),
    ),
  )
  const cluster: NatsCluster = {
    servers,
    urls: servers.map((s) => s.url),
    stop: async () => {
      await Promise.all(servers.map((s) => s.stop()))
    },
  }
  try {
    await waitFor(
      async () => {
        const states = await Promise.all(servers.map((s) => monitor(s, '/jsz').catch(() => undefined)))
        const routed = await Promise.all(servers.map((s) => monitor(s, '/routez').catch(() => undefined)))
        return (
          routed.every((r) => (r as { num_routes?: number } | undefined)?.num_routes === size - 1) &&
          states.some((j) => Boolean((j as { meta_cluster?: { leader?: string } } | undefined)?.meta_cluster?.leader))
        )
      },
      'cluster routes and JetStream meta leader',
      30_000,
    )
  } catch (err) {
    await cluster.stop()
    throw err
  }
  return cluster
}

/** GETs a monitoring endpoint of a server and parses its JSON. */
export async function monitor(server: NatsServer, path: string): Promise<unknown> {
  const res = await fetch(`http://127.0.0.1:${server.monitorPort}${path}`)
  return res.json()
}
