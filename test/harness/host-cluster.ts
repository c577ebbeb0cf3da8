import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Test } from 'tap'
import type { Host, Hosts } from './hosts.ts'
import type { SpawnedProcess } from './process.ts'

/** The ports of every host's nats-server (each host has its own addresses, so they are the same on every host). */
export const CLIENT_PORT = 4222
export const CLUSTER_PORT = 6222
export const MONITOR_PORT = 8222

/** The nats-server of one simulated host. */
export interface HostServer {
  readonly host: Host
  /** Its server_name: `<cluster>-h<i>`. */
  readonly name: string
  /** For processes on the hosts: `nats://198.18.0.<i>:4222`. */
  readonly clientUrl: string
  /** For the test process: `nats://127.0.0.1:<port>`, forwarded into the network through the switch. */
  readonly url: string
  /** Its JetStream store is `<dir>/js`, its config `<dir>.conf`; kept across kill and start, removed by the cluster's `stop()`. */
  readonly dir: string
  readonly running: boolean
  /** Starts it (again, with the same store) and resolves once it says it is ready. */
  start(): Promise<void>
  /** SIGTERM (SIGKILL after 5 s). */
  stop(): Promise<void>
  /** SIGKILL. */
  kill(): Promise<void>
  /** What it printed since it last started. */
  log(): string
  /** GETs a monitoring endpoint (`/routez`, `/jsz`…) through the switch and parses its JSON. */
  monitor(path: string): Promise<unknown>
}

export interface HostClusterOptions {
  /** Config text appended to every server's config, e.g. `confSecurity()` for the shipped users and permissions. */
  readonly extra?: string
  /** The cluster's name (default `sb<pid>`). */
  readonly name?: string
  /** The hosts that run a server (default all). */
  readonly on?: readonly Host[]
  /**
   * Every server's ping_interval and ping_max, for clients and routes (default "1s" and 3): a cut link is noticed
   * after about ping_interval × ping_max instead of nats-server's default of minutes.
   */
  readonly pingInterval?: string
  readonly pingMax?: number
}

/** One nats-server per host, one cluster over the hosts' addresses, JetStream on every server. */
export interface HostCluster {
  readonly name: string
  readonly servers: readonly HostServer[]
  /** The servers' `url`s (loopback, for the test process). */
  readonly urls: string[]
  /** The servers' `clientUrl`s (198.18.0.0/15, for processes on the hosts). */
  readonly clientUrls: string[]
  /** Resolves once every running server routes to every other running one and JetStream has a meta leader. */
  formed(timeoutMs?: number): Promise<void>
  /** Stops every server and removes their stores. Also done at teardown. */
  stop(): Promise<void>
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (await check().catch(() => false)) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

/**
 * Starts a nats-server in each host's namespace (`ip netns exec`), listening on the host's 198.18 address only:
 * clients on 4222, routes on 6222 (every other host's address is a route), monitoring on 8222. Each has its own
 * server_name and its JetStream store under the run's dir (`net.dir`, one level under the OS temp dir, where
 * test/fixtures/nats-conf.ts's `includeLine`, and so `confSecurity()`, resolves its includes). Resolves once the
 * cluster is formed; stopped at teardown of `t`.
 */
export async function startHostCluster(t: Test, net: Hosts, opts: HostClusterOptions = {}): Promise<HostCluster> {
  const on = opts.on ?? net.hosts
  const name = opts.name ?? `sb${process.pid}`
  const routes = on.map((h) => `nats-route://${h.address}:${CLUSTER_PORT}`)
  const servers: HostServer[] = []
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()))
    await Promise.all(servers.map((s) => rm(s.dir, { recursive: true, force: true })))
    await Promise.all(servers.map((s) => rm(`${s.dir}.conf`, { force: true })))
  }
  t.teardown(stop)
  for (const host of on) {
    const serverName = `${name}-${host.name}`
    // in the run's dir (one level under the temp dir, where confSecurity()'s relative includes resolve; removed with
    // the namespaces, by the reaper too): <dir>/<host>.conf and the store <dir>/<host>/js
    const dir = join(net.dir, host.name)
    await mkdir(dir, { recursive: true })
    const conf = `${dir}.conf`
    await writeFile(
      conf,
      [
        `server_name: ${serverName}`,
        `listen: ${host.address}:${CLIENT_PORT}`,
        `http: ${host.address}:${MONITOR_PORT}`,
        `ping_interval: "${opts.pingInterval ?? '1s'}"`,
        `ping_max: ${opts.pingMax ?? 3}`,
        `jetstream { store_dir: "${join(dir, 'js')}" }`,
        'cluster {',
        `  name: ${name}`,
        `  listen: ${host.address}:${CLUSTER_PORT}`,
        `  routes: [${routes.filter((r) => !r.includes(`//${host.address}:`)).join(', ')}]`,
        // clients learn no 198.18 addresses they may not reach (the test process reaches the hosts by forwards)
        '  no_advertise: true',
        '}',
        opts.extra ?? '',
      ].join('\n'),
    )
    const [clientPort, monitorPort] = await Promise.all([net.forward(host.address, CLIENT_PORT), net.forward(host.address, MONITOR_PORT)])
    let proc: SpawnedProcess | undefined
    const running = () => proc !== undefined && proc.child.exitCode === null && proc.child.signalCode === null
    servers.push({
      host,
      name: serverName,
      clientUrl: `nats://${host.address}:${CLIENT_PORT}`,
      url: `nats://127.0.0.1:${clientPort}`,
      dir,
      get running() {
        return running()
      },
      async start() {
        if (running()) return
        const p = host.spawn(process.env.NATS_SERVER || 'nats-server', ['-c', conf], { name: `nats-server ${serverName}` })
        proc = p
        try {
          await p.waitFor(/Server is ready/, 15_000)
        } catch (err) {
          await p.stop('SIGKILL')
          throw err
        }
      },
      async stop() {
        await proc?.stop('SIGTERM', 5_000)
      },
      async kill() {
        await proc?.stop('SIGKILL')
      },
      log: () => proc?.output() ?? '',
      async monitor(path) {
        const res = await fetch(`http://127.0.0.1:${monitorPort}${path}`, { signal: AbortSignal.timeout(2_000) })
        return res.json()
      },
    })
  }
  const cluster: HostCluster = {
    name,
    servers,
    urls: servers.map((s) => s.url),
    clientUrls: servers.map((s) => s.clientUrl),
    async formed(timeoutMs = 30_000) {
      await until(
        async () => {
          const up = servers.filter((s) => s.running)
          const routez = await Promise.all(up.map((s) => s.monitor('/routez') as Promise<{ num_routes?: number }>))
          const jsz = await Promise.all(up.map((s) => s.monitor('/jsz') as Promise<{ meta_cluster?: { leader?: string } }>))
          return routez.every((r) => r.num_routes === up.length - 1) && jsz.some((j) => Boolean(j.meta_cluster?.leader))
        },
        `cluster ${name}: routes between ${servers.filter((s) => s.running).length} servers and a JetStream meta leader`,
        timeoutMs,
      )
    },
    stop,
  }
  await Promise.all(servers.map((s) => s.start()))
  await cluster.formed()
  return cluster
}
