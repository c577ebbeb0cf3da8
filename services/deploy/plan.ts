/**
 * What a checked topology (services/deploy/topology.ts) runs: per host its nats-server (config text included), its
 * module processes and its gateways, with the arguments and environment of each. Pure: scripts/start.ts writes the
 * files and starts the processes.
 */
import { MODULE_NAMES, type ModuleName } from '../registry.ts'
import { DEFAULT_PROCESS, DEFAULT_REPLICAS, modulesOf, type Topology, type TopologyHost } from './topology.ts'

/** JetStream limits of every server of a topology (as nats.conf's). */
export const DEFAULT_JETSTREAM_LIMITS = { maxMemoryStore: '256MB', maxFileStore: '2GB' } as const
/** Where `npm start -- --topology` keeps a topology's server configs and stores unless `--data` says otherwise. */
export const DEFAULT_DATA_DIR = 'data/topologies'
/** The label of a process that serves every module. */
export const ALL_MODULES_LABEL = 'all'

/** A host's nats-server. */
export interface PlannedServer {
  /** `<topology>-<host>`: unique in the cluster, as JetStream needs. */
  readonly serverName: string
  /** Where the host's processes connect: `nats://<address>:<client>`. */
  readonly url: string
  readonly listen: string
  /** `<address>:<cluster>`, when the topology has more than one host. */
  readonly clusterListen: string | undefined
  /** Its monitor, on the host's loopback: `http://127.0.0.1:<monitor>`. */
  readonly monitorUrl: string
  readonly monitorListen: string
  /** Every server's route URL (its own too; nats-server skips it), empty with one host. */
  readonly routes: readonly string[]
}

/** One module process: one copy of each of its modules. */
export interface PlannedProcess {
  /** `<host>/<label>#<n>`: `host1/user#2`, `host2/friend+group#1`, `single/all#1`; n counts per label across the topology. */
  readonly name: string
  readonly modules: readonly ModuleName[]
  /** A standby copy (hosts[].standby). */
  readonly standby: boolean
  /** `node --import tsx <args>`: services/worker.ts for one module, services/multi-worker.ts for several. */
  readonly args: readonly string[]
  /** What it prints once it serves. */
  readonly ready: RegExp
}

/** One gateway process. */
export interface PlannedGateway {
  /** `<host>/gateway#<n>`, n counting across the topology. */
  readonly name: string
  readonly port: number
  readonly listenHost: string
  readonly ops: number | 'off'
  /** Where clients connect: `ws://<address>:<port>`. */
  readonly url: string
}

/** One host's part of a topology. */
export interface HostPlan {
  readonly name: string
  readonly address: string
  readonly server: PlannedServer
  readonly processes: readonly PlannedProcess[]
  readonly gateways: readonly PlannedGateway[]
}

/** A topology resolved into what runs where. */
export interface Plan {
  readonly name: string
  readonly description: string | undefined
  readonly cluster: string
  readonly replicas: number
  readonly hosts: readonly HostPlan[]
}

/** services/worker.ts's "serving" line, and services/multi-worker.ts's last one. */
const WORKER_READY = /serving rpc\./
const MULTI_READY = /^serving \d+ modules in one process/

/** The label of a process serving `modules`: the module, `a+b`, or {@link ALL_MODULES_LABEL}. */
export const labelOf = (modules: readonly ModuleName[]): string => (modules.length === MODULE_NAMES.length ? ALL_MODULES_LABEL : modules.join('+'))

/** The module sets a host runs as processes, each with its copies, in start order (by its first module). */
function processKinds(h: TopologyHost): { modules: ModuleName[]; copies: number }[] {
  const mods = modulesOf(h.modules)
  const copies = (m: ModuleName) => h.modules![m]!
  if ((h.process ?? DEFAULT_PROCESS) === 'single') return mods.length === 0 ? [] : [{ modules: mods, copies: copies(mods[0]!) }]
  const groups = (h.groups ?? []).map((g) => MODULE_NAMES.filter((m) => g.includes(m)))
  const kinds = mods.filter((m) => !groups.some((g) => g.includes(m))).map((m) => [m])
  return [...kinds, ...groups]
    .sort((a, b) => MODULE_NAMES.indexOf(a[0]!) - MODULE_NAMES.indexOf(b[0]!))
    .map((modules) => ({ modules, copies: copies(modules[0]!) }))
}

/** The processes, servers and gateways of a checked topology (parseTopology). Pure. */
export function planTopology(t: Topology): Plan {
  const counters = new Map<string, number>()
  const next = (label: string) => {
    const n = (counters.get(label) ?? 0) + 1
    counters.set(label, n)
    return n
  }
  const clustered = t.hosts.length > 1
  const routes = clustered ? t.hosts.map((h) => `nats-route://${h.address}:${h.nats.cluster}`) : []
  const process = (host: string, modules: readonly ModuleName[], standby: boolean): PlannedProcess => {
    const label = labelOf(modules)
    return {
      name: `${host}/${label}#${next(label)}`,
      modules,
      standby,
      args: modules.length === 1 ? ['services/worker.ts', modules[0]!] : ['services/multi-worker.ts', ...modules],
      ready: modules.length === 1 ? WORKER_READY : MULTI_READY,
    }
  }
  const hosts = t.hosts.map((h): HostPlan => {
    const processes = processKinds(h).flatMap((k) => Array.from({ length: k.copies }, () => process(h.name, k.modules, false)))
    for (const m of modulesOf(h.standby)) for (let i = 0; i < h.standby![m]!; i++) processes.push(process(h.name, [m], true))
    const gateways = (h.gateways ?? []).map((g): PlannedGateway => {
      const listenHost = g.host ?? h.address
      const reach = listenHost === '0.0.0.0' ? h.address : listenHost
      return { name: `${h.name}/gateway#${next('gateway')}`, port: g.port, listenHost, ops: g.ops ?? 'off', url: `ws://${reach}:${g.port}` }
    })
    return {
      name: h.name,
      address: h.address,
      server: {
        serverName: `${t.name}-${h.name}`,
        url: `nats://${h.address}:${h.nats.client}`,
        listen: `${h.address}:${h.nats.client}`,
        clusterListen: clustered ? `${h.address}:${h.nats.cluster}` : undefined,
        monitorUrl: `http://127.0.0.1:${h.nats.monitor}`,
        monitorListen: `127.0.0.1:${h.nats.monitor}`,
        routes,
      },
      processes,
      gateways,
    }
  })
  return { name: t.name, description: t.description, cluster: t.cluster ?? t.name, replicas: t.replicas ?? DEFAULT_REPLICAS, hosts }
}

/**
 * The module processes of `hosts` in two waves: first, for each module, the first process that serves it (it
 * creates the module's buckets and stream); then the others. On a fresh cluster a second copy that opens a
 * replicated bucket the first is still creating may find it before its leader is elected, and fail to write. Pure.
 */
export function startWaves(hosts: readonly HostPlan[]): { h: HostPlan; p: PlannedProcess }[][] {
  const covered = new Set<ModuleName>()
  const first: { h: HostPlan; p: PlannedProcess }[] = []
  const rest: { h: HostPlan; p: PlannedProcess }[] = []
  for (const h of hosts) {
    for (const p of h.processes) {
      const wave = p.modules.some((m) => !covered.has(m)) ? first : rest
      for (const m of p.modules) covered.add(m)
      wave.push({ h, p })
    }
  }
  return rest.length === 0 ? [first] : [first, rest]
}

/** The host named `name`; throws naming the hosts there are. Pure. */
export function hostOf(plan: Plan, name: string): HostPlan {
  const h = plan.hosts.find((x) => x.name === name)
  if (h === undefined) throw new Error(`topology ${plan.name} has no host '${name}' (its hosts: ${plan.hosts.map((x) => x.name).join(', ')})`)
  return h
}

/** What a host's server config needs from the machine it is written on. */
export interface ConfFiles {
  /** The JetStream store directory, where nats-server keeps `jetstream/` (absolute, or relative to where it starts). */
  readonly storeDir: string
  /** The users and permissions file, as an `include` path: relative to the config file (nats-server resolves it so). */
  readonly include: string
  /** nats.conf's `max_payload` (bytes). */
  readonly maxPayload: number
}

/**
 * The nats-server config of a host: its name, client and monitor listeners, JetStream with its own store, the
 * cluster block with routes to every host (more than one host), and the shipped users and permissions. Pure.
 */
export function natsServerConf(plan: Plan, host: HostPlan, files: ConfFiles): string {
  const s = host.server
  const lines = [
    `# ${plan.name}, host ${host.name}: written by npm start -- --topology (scripts/start.ts); edits are overwritten.`,
    `server_name: ${s.serverName}`,
    `listen: ${s.listen}`,
    `http: ${s.monitorListen}`,
    '',
    'jetstream {',
    `  store_dir: ${JSON.stringify(files.storeDir)}`,
    `  max_memory_store: ${DEFAULT_JETSTREAM_LIMITS.maxMemoryStore}`,
    `  max_file_store: ${DEFAULT_JETSTREAM_LIMITS.maxFileStore}`,
    '}',
    '',
    `max_payload: ${files.maxPayload}`,
  ]
  if (s.clusterListen !== undefined) {
    lines.push('', 'cluster {', `  name: ${plan.cluster}`, `  listen: ${s.clusterListen}`, '  routes: [', ...s.routes.map((r) => `    ${r}`), '  ]', '}')
  }
  lines.push('', '# Users and permissions per role (path relative to this file).', `include ${JSON.stringify(files.include)}`, '')
  return lines.join('\n')
}

/** The environment a module process of `host` gets on top of npm start's: its host's server, the replicas. Pure. */
export function moduleEnv(plan: Plan, host: HostPlan): Record<string, string> {
  return { NATS_URL: host.server.url, SWITCHBOARD_REPLICAS: String(plan.replicas) }
}

/** The environment of a gateway process: its host's server, its listeners. Pure. */
export function gatewayEnv(host: HostPlan, g: PlannedGateway): Record<string, string> {
  return { NATS_URL: host.server.url, GATEWAY_PORT: String(g.port), GATEWAY_HOST: g.listenHost, GATEWAY_OPS_PORT: String(g.ops) }
}

/**
 * How many other servers a host's server must have routes to before its modules start: enough for JetStream to
 * elect a leader (a majority of the hosts) and to place `replicas` copies of a bucket. Pure.
 */
export function peersNeeded(plan: Plan): number {
  const n = plan.hosts.length
  return n === 1 ? 0 : Math.max(Math.floor(n / 2) + 1, plan.replicas) - 1
}

/** The command that starts one host's part of a topology on that host. Pure. */
export const hostCommand = (file: string, host: string): string => `npm start -- --topology ${file} --host ${host}`

/** What runs where, as lines to print (npm start -- --topology <file> --plan). Pure. */
export function describePlan(plan: Plan, file: string): string {
  const out = [
    `topology ${plan.name}${plan.description ? `: ${plan.description}` : ''}`,
    `JetStream replicas ${plan.replicas}; ${plan.hosts.length === 1 ? 'one nats-server' : `nats cluster '${plan.cluster}' of ${plan.hosts.length} servers`}`,
  ]
  for (const h of plan.hosts) {
    out.push('', `host ${h.name} (${h.address}): ${hostCommand(file, h.name)}`)
    out.push(
      `  nats-server ${h.server.serverName} ${h.server.url}${h.server.clusterListen ? `, routes on ${h.server.clusterListen}` : ''}, monitor ${h.server.monitorUrl}`,
    )
    for (const p of h.processes) out.push(`  ${p.name}${p.standby ? ' (standby)' : ''}: ${p.modules.join(', ')}`)
    for (const g of h.gateways) out.push(`  ${g.name}: ${g.url}${g.ops === 'off' ? '' : `, ops http://127.0.0.1:${g.ops}/ops`}`)
  }
  return out.join('\n')
}
