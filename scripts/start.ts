/**
 * `npm start`: the whole chat system on one machine. Uses NATS_URL when set, otherwise runs nats-server from
 * ./nats.conf (store under ./data). Starts every module as its own process (two copies of user and message), then
 * the gateway, prints a table of what runs where, and on Ctrl-C (SIGINT/SIGTERM/SIGHUP) stops the children first and
 * nats-server last.
 *
 * `npm start -- --topology <file>` runs a topology file (deploy/*.json, services/deploy/topology.ts) instead: a
 * nats-server per host, all in one cluster (configs and JetStream stores under `--data <dir>`, default
 * data/topologies/<name>), each host's module processes and gateways connected to their host's server, with the
 * file's JetStream replicas. `--host <name>` starts that host's part only: the one command each real machine runs.
 * `--plan` prints what runs where, and each host's command, and starts nothing.
 *
 * Supervision: a child that exits on its own once it has served (nats-server included) is restarted with
 * exponential backoff (scripts/restart-backoff.ts), and said so; one that exits before it first served fails the
 * start. Every child has an IPC channel to this process and stops gracefully when it is gone, also when this process
 * is SIGKILLed (services/shared/parent-watch.ts); nats-server, which cannot watch it, runs under a small Node keeper
 * that does (scripts/nats-keeper.ts). The module workers run at CPU niceness 10 (SWITCHBOARD_NICE to change it),
 * below the gateway and nats-server, so the gateway's load shedding keeps its turn when the cores are full.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, relative, resolve } from 'node:path'
import { connect as tcpConnect } from 'node:net'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { readTopology, TopologyError } from '../services/deploy/topology.ts'
import {
  DEFAULT_DATA_DIR,
  describePlan,
  gatewayEnv,
  hostCommand,
  hostOf,
  moduleEnv,
  natsServerConf,
  peersNeeded,
  planTopology,
  startWaves,
  type HostPlan,
  type Plan,
} from '../services/deploy/plan.ts'
import { MODULE_NAMES, MODULES } from '../services/registry.ts'
import { DEFAULT_CREDENTIAL_VARS, FEED_CREDENTIAL_VARS, READS_CREDENTIAL_VARS } from '../services/shared/connect.ts'
import { CREDS_DIR_VAR, PERMISSIONS_CONF_FILE } from '../services/shared/credentials.ts'
import { DEV_ADMIN_PASSWORD, isProduction, refuseDefaultsInProduction } from '../services/shared/production.ts'
import { DEFAULT_WORKER_NICE, NICE_VAR } from '../services/shared/priority.ts'
import { ensureNatsServer, natsServerBin } from './ensure-nats-server.mjs'
import { nextRestart, restartDelay } from './restart-backoff.ts'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222'
/** nats.conf's monitor (`http:`), which the keeper asks whether nats-server's clients are gone. */
const NATS_MONITOR_URL = 'http://127.0.0.1:8222'
const READY_TIMEOUT_MS = 60_000
/** `user.register` calls per address per hour that `npm start` allows outside production (the gateway's default: 20). */
const DEV_REGISTRATIONS_PER_HOUR = 1_000
const STOP_GRACE_MS = 10_000

/** The worker processes, in start order (user first: the others call it), `copies` of each module (services/<name>/module.ts). */
const WORKERS = MODULE_NAMES.flatMap((name) => Array.from({ length: MODULES[name].copies }, () => name))

/** One supervised child: its current process, replaced when it is restarted. */
interface Child {
  readonly name: string
  proc: ChildProcess
  /** The pid of the program it runs: the process's own, or the one it printed (the keeper: nats-server's). */
  pid: number | undefined
  address: string
  /** The current process printed its ready line (or has none to print). */
  serving: boolean
  /** When the current process began serving (Date.now()). */
  servingSince: number | undefined
  /** Some process of this child served: from then on an exit on its own means a restart. */
  served: boolean
  /** How many times it was restarted since its backoff last reset. */
  restarts: number
  restartTimer: NodeJS.Timeout | undefined
  stopping: boolean
  /** Resolves when the current process exits. */
  exited: Promise<void>
}

const children: Child[] = []
/** The nats-servers it runs (through their keepers): nats.conf's, or one per host of a topology. */
const servers: Child[] = []
const monitors = new Map<Child, string>()
let shuttingDown = false

const say = (line: string) => process.stdout.write(`[start] ${line}\n`)

/**
 * Starts `node --import tsx <args>` as child `name`, serving once a line matches `ready` (at once without one), and
 * supervises it: restarted with backoff when it exits on its own after it served. A line matching `pidLine` names
 * the pid of the program it runs, in its first group.
 */
function launch(name: string, args: string[], env: NodeJS.ProcessEnv, ready?: RegExp, pidLine?: RegExp): Child {
  // own process group: a terminal's Ctrl-C reaches only this script, which then stops the children in order; the
  // IPC channel, never used for messages, ends when this process dies, however it dies: the child then stops
  const spawnOne = () => spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], detached: true })
  const child: Child = {
    name,
    proc: spawnOne(),
    pid: undefined,
    address: '',
    serving: false,
    servingSince: undefined,
    served: false,
    restarts: 0,
    restartTimer: undefined,
    stopping: false,
    exited: Promise.resolve(),
  }
  const supervise = (proc: ChildProcess) => {
    child.proc = proc
    child.pid = pidLine === undefined ? proc.pid : undefined
    child.serving = false
    child.servingSince = undefined
    child.exited = new Promise((resolve) => proc.once('exit', () => resolve()))
    const serving = () => {
      child.serving = true
      child.servingSince = Date.now()
      if (child.served) say(`${name} restarted: pid ${child.pid} serving${child.pid === proc.pid ? '' : ` (kept by pid ${proc.pid})`}`)
      child.served = true
    }
    if (ready === undefined) serving()
    const relay = (stream: NodeJS.WritableStream) => {
      let partial = ''
      return (data: Buffer) => {
        const lines = (partial + data.toString()).split('\n')
        partial = lines.pop()!
        for (const line of lines) {
          stream.write(`[${name}] ${line}\n`)
          const pid = pidLine?.exec(line)?.[1]
          if (pid !== undefined) child.pid = Number(pid)
          if (ready !== undefined && !child.serving && ready.test(line)) serving()
        }
      }
    }
    proc.stdout!.on('data', relay(process.stdout))
    proc.stderr!.on('data', relay(process.stderr))
    proc.once('error', (err) => say(`${name} could not start: ${err.message}`))
    proc.once('exit', (code, signal) => {
      child.serving = false
      if (child.stopping || shuttingDown) return
      const how = signal === null ? `exited with code ${code}` : `was killed by ${signal}`
      // before it ever served, startup fails (waitUntil sees it exit): a child that cannot start would only loop
      if (!child.served) return
      child.restarts = nextRestart(child.restarts, child.servingSince === undefined ? undefined : Date.now() - child.servingSince)
      const delay = restartDelay(child.restarts)
      say(`!! ${name} (pid ${child.pid}) ${how}: restarting in ${delay} ms (restart ${child.restarts})`)
      child.restartTimer = setTimeout(() => {
        child.restartTimer = undefined
        if (!child.stopping && !shuttingDown) supervise(spawnOne())
      }, delay)
    })
  }
  supervise(child.proc)
  return child
}

const running = (c: Child) => c.proc.exitCode === null && c.proc.signalCode === null

/** SIGKILLs a child's whole process group (its own, being detached): what it started goes too (the keeper's nats-server). */
function killGroup(c: Child): void {
  try {
    process.kill(-c.proc.pid!, 'SIGKILL')
  } catch {
    c.proc.kill('SIGKILL')
  }
}

async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs: number, alive?: Child): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!(await check())) {
    if (alive !== undefined && !running(alive)) throw new Error(`${alive.name} exited before ${what}`)
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host, port })
    s.once('connect', () => (s.destroy(), resolve(true)))
    s.once('error', () => resolve(false))
  })
}

async function stop(child: Child): Promise<void> {
  child.stopping = true
  clearTimeout(child.restartTimer)
  if (!running(child)) return
  child.proc.kill('SIGTERM')
  const timer = setTimeout(() => killGroup(child), STOP_GRACE_MS)
  await child.exited
  clearTimeout(timer)
}

async function shutdown(reason: string, code: number): Promise<never> {
  if (shuttingDown) return new Promise<never>(() => undefined)
  shuttingDown = true
  say(
    `${reason}: stopping ${children.length} processes${servers.length === 0 ? '' : servers.length === 1 ? ', then nats-server' : `, then ${servers.length} nats-servers`}`,
  )
  const isGateway = (c: Child) => /(^|\/)gateway(#\d+)?$/.test(c.name)
  await Promise.all(children.filter(isGateway).map(stop))
  await Promise.all(children.filter((c) => !isGateway(c)).map(stop))
  await Promise.all(servers.map(stop))
  say('stopped')
  process.exit(code)
}

async function startNats(): Promise<string> {
  ensureNatsServer()
  const url = new URL(DEFAULT_NATS_URL)
  if (await portOpen(url.hostname, Number(url.port))) {
    throw new Error(`something already listens on ${url.host}: stop it, or use it with NATS_URL=${DEFAULT_NATS_URL} npm start`)
  }
  mkdirSync(`${ROOT}data/nats`, { recursive: true })
  // through the keeper, which stops it when this process is gone; ready once it printed its pid and listens
  const nats = launchNats('nats-server', NATS_MONITOR_URL, natsConf())
  nats.address = DEFAULT_NATS_URL
  await waitUntil(() => nats.serving && portOpen(url.hostname, Number(url.port)), `nats-server on ${url.host}`, 15_000, nats)
  return DEFAULT_NATS_URL
}

/** Starts nats-server with config `conf` through the keeper, as child `name`; ready once it printed its pid and says so. */
function launchNats(name: string, monitorUrl: string, conf: string): Child {
  const keeper = ['scripts/nats-keeper.ts', '--monitor', monitorUrl, '--', natsServerBin() as string, '-c', conf]
  const nats = launch(name, keeper, process.env, /Server is ready/, /^nats-server pid (\d+)$/)
  servers.push(nats)
  monitors.set(nats, monitorUrl)
  return nats
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

/**
 * nats.conf, or with SWITCHBOARD_CREDS_DIR set, a copy of it (data/nats-creds.conf) that includes that directory's
 * permissions.conf instead of the dev one.
 */
function natsConf(): string {
  const dir = process.env[CREDS_DIR_VAR]
  if (!dir) return 'nats.conf'
  const permissions = permissionsFile()
  // nats-server 2.9 resolves an include relative to the including file, even an absolute path
  const include = relative(`${ROOT}data`, permissions)
  const text = readFileSync(`${ROOT}nats.conf`, 'utf8').replace(/^include "config\/permissions\.conf"$/m, `include "${include}"`)
  if (!text.includes(`include "${include}"`)) throw new Error('nats.conf has no line include "config/permissions.conf" to replace')
  writeFileSync(`${ROOT}data/nats-creds.conf`, text)
  say(`nats-server uses the credentials of ${dir} (data/nats-creds.conf)`)
  return 'data/nats-creds.conf'
}

/** The users and permissions nats-server includes: config/permissions.conf, or SWITCHBOARD_CREDS_DIR's. */
function permissionsFile(): string {
  const dir = process.env[CREDS_DIR_VAR]
  if (!dir) return `${ROOT}config/permissions.conf`
  const permissions = resolve(dir, PERMISSIONS_CONF_FILE)
  if (!existsSync(permissions)) throw new Error(`${CREDS_DIR_VAR}=${dir} has no ${PERMISSIONS_CONF_FILE}: make it with npm run creds -- init ${dir}`)
  return permissions
}

const USAGE = 'usage: npm start [-- --topology <file> [--host <name>] [--data <dir>] [--plan]]'

/** The command line: nothing (nats.conf's layout), or a topology file and its options. Exits 2 on a bad one. */
function options(): { topology?: string; host?: string; data?: string; plan: boolean } {
  try {
    const { values } = parseArgs({
      options: { topology: { type: 'string' }, host: { type: 'string' }, data: { type: 'string' }, plan: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    })
    if (values.topology === undefined && (values.host !== undefined || values.data !== undefined || values.plan))
      throw new Error('--host, --data and --plan go with --topology')
    return { ...values, plan: values.plan ?? false }
  } catch (err) {
    process.stderr.write(`start: ${(err as Error).message}\n${USAGE}\n`)
    process.exit(2)
  }
}

/** A topology's plan, and the hosts to start (`--host`: that one); exits 2, saying why, on a bad file or host. */
function topologyPlan(file: string, host: string | undefined): { plan: Plan; hosts: readonly HostPlan[] } {
  try {
    const plan = planTopology(readTopology(file))
    return { plan, hosts: host === undefined ? plan.hosts : [hostOf(plan, host)] }
  } catch (err) {
    process.stderr.write(`start: ${err instanceof TopologyError ? err.message : (err as Error).message}\n`)
    process.exit(2)
  }
}

async function getJson(url: string): Promise<unknown> {
  try {
    return await (await fetch(url, { signal: AbortSignal.timeout(1_000) })).json()
  } catch {
    return undefined
  }
}

/** How many other servers the server at `monitorUrl` routes to, and whether its JetStream knows a meta leader. */
async function clusterState(monitorUrl: string): Promise<{ peers: number; leader: boolean }> {
  const [routez, jsz] = await Promise.all([getJson(`${monitorUrl}/routez`), getJson(`${monitorUrl}/jsz`)])
  const routes = (routez as { routes?: { remote_id?: string }[] } | undefined)?.routes ?? []
  // one route per server before nats-server 2.10, a pool of them after
  const peers = new Set(routes.map((r) => r.remote_id)).size
  return { peers, leader: Boolean((jsz as { meta_cluster?: { leader?: string } } | undefined)?.meta_cluster?.leader) }
}

/**
 * `npm start -- --topology <file> [--host <name>]`: each host's nats-server (config written under `data`), once they
 * are routed and JetStream has a leader its module processes, then its gateways.
 */
async function startTopology(
  file: string,
  plan: Plan,
  hosts: readonly HostPlan[],
  data: string | undefined,
  env: NodeJS.ProcessEnv,
  workerEnv: NodeJS.ProcessEnv,
) {
  if (process.env.NATS_URL) throw new Error(`NATS_URL and --topology do not go together: the topology names its servers (unset NATS_URL)`)
  ensureNatsServer()
  const dataDir = resolve(ROOT, data ?? `${DEFAULT_DATA_DIR}/${plan.name}`)
  const only = hosts.length === 1 && plan.hosts.length > 1 ? ` (host ${hosts[0]!.name} of ${plan.hosts.map((h) => h.name).join(', ')})` : ''
  say(
    `topology ${plan.name}${only}: ${hosts.length} host${hosts.length === 1 ? '' : 's'}, JetStream replicas ${plan.replicas}, data in ${relative(ROOT, dataDir) || '.'}`,
  )
  for (const h of hosts) {
    const s = h.server
    const ports: [string, string][] = [
      [s.listen, `${h.name}'s NATS client port`],
      ...(s.clusterListen === undefined ? [] : [[s.clusterListen, `${h.name}'s NATS cluster port`] as [string, string]]),
      [s.monitorListen, `${h.name}'s NATS monitor port`],
      ...h.gateways.flatMap((g): [string, string][] => [
        [`${g.listenHost === '0.0.0.0' ? '127.0.0.1' : g.listenHost}:${g.port}`, `${g.name}'s port`],
        ...(g.ops === 'off' ? [] : [[`127.0.0.1:${g.ops}`, `${g.name}'s ops port`] as [string, string]]),
      ]),
    ]
    for (const [at, what] of ports) {
      const i = at.lastIndexOf(':')
      if (await portOpen(at.slice(0, i), Number(at.slice(i + 1))))
        throw new Error(`something already listens on ${at} (${what}): stop it, or change the topology`)
    }
  }
  const maxPayload = Number(/^max_payload:\s*(\d+)/m.exec(readFileSync(`${ROOT}nats.conf`, 'utf8'))?.[1] ?? 1_048_576)
  const permissions = permissionsFile()
  if (process.env[CREDS_DIR_VAR]) say(`nats-servers use the credentials of ${process.env[CREDS_DIR_VAR]}`)
  const started = hosts.map((h) => {
    const dir = resolve(dataDir, h.name)
    mkdirSync(dir, { recursive: true })
    const conf = resolve(dir, 'nats.conf')
    writeFileSync(conf, natsServerConf(plan, h, { storeDir: dir, include: relative(dirname(conf), permissions), maxPayload }))
    const nats = launchNats(`${h.name}/nats-server`, h.server.monitorUrl, conf)
    nats.address = h.server.url
    return { h, nats }
  })
  await Promise.all(
    started.map(({ h, nats }) => {
      const [host, port] = [h.server.listen.slice(0, h.server.listen.lastIndexOf(':')), Number(h.server.listen.split(':').pop())]
      return waitUntil(() => nats.serving && portOpen(host, port), `${nats.name} on ${h.server.listen}`, 15_000, nats)
    }),
  )
  const needed = peersNeeded(plan)
  if (needed > 0) {
    // JetStream needs a majority of the servers for a leader, and `replicas` of them to place a bucket
    const others = (h: HostPlan) => plan.hosts.filter((o) => o !== h).map((o) => o.name)
    let nextNote = Date.now() + 15_000
    await waitUntil(
      async () => {
        const states = await Promise.all(started.map(({ h }) => clusterState(h.server.monitorUrl)))
        if (states.every((s) => s.peers >= needed && s.leader)) return true
        if (only && Date.now() > nextNote) {
          nextNote = Date.now() + 15_000
          const h = hosts[0]!
          say(
            `waiting for the cluster: ${h.name} routes to ${states[0]!.peers} of the ${needed} other servers it needs (${others(h).join(', ')}: run ${hostCommand(file, '<name>')} there)`,
          )
        }
        return false
      },
      `the NATS cluster (${needed} routes each and a JetStream leader)`,
      only ? Number.POSITIVE_INFINITY : READY_TIMEOUT_MS,
    )
  }
  // the first process of each module starts alone and creates the module's buckets and stream; the other copies,
  // which would find a fresh replicated bucket before it has a leader, once it serves
  for (const wave of startWaves(hosts)) {
    const started = wave.map(({ h, p }) => {
      const child = launch(p.name, [...p.args], { ...workerEnv, ...moduleEnv(plan, h) }, p.ready)
      child.address = `${h.server.url}${p.standby ? ' (standby)' : ''}`
      children.push(child)
      return child
    })
    await Promise.all(started.map((c) => waitUntil(() => c.serving, `${c.name} to serve`, READY_TIMEOUT_MS, c)))
  }
  const gateways = hosts.flatMap((h) =>
    h.gateways.map((g) => {
      const child = launch(g.name, ['services/gateway/main.ts'], { ...env, ...gatewayEnv(h, g) }, /serving/)
      children.push(child)
      return { h, child, urls: gatewayUrls(child) }
    }),
  )
  await Promise.all(gateways.map(({ child }) => waitUntil(() => child.serving, `${child.name} to serve`, READY_TIMEOUT_MS, child)))
  for (const { h, child, urls } of gateways) child.address = `${urls.ws} (via ${h.server.url})${urls.ops ? `, dashboard ${urls.ops}` : ''}`
  printTable()
  const first = gateways[0]?.urls
  const chat =
    first === undefined
      ? 'No gateway on this host.'
      : `Web chat: ${first.ws.replace(/^ws/, 'http')}/${gateways.length > 1 ? ` (and ${gateways.length - 1} more gateways)` : ''}   Demo: GATEWAY_URL=${first.ws} npm run demo`
  say(`system ready: topology ${plan.name}${only}. ${chat}   Stop: Ctrl-C`)
}

/** The chat and dashboard URLs a gateway prints when it serves (`ws` empty until then). */
function gatewayUrls(gateway: Child): { ws: string; ops: string } {
  const urls = { ws: '', ops: '' }
  gateway.proc.stdout!.on('data', (d: Buffer) => {
    urls.ws ||= /wss?:\/\/\S+/.exec(d.toString())?.[0] ?? ''
    urls.ops ||= /dashboard at (\S+)/.exec(d.toString())?.[1] ?? ''
  })
  return urls
}

/** Prints what runs where: every nats-server (with its monitor and keeper), worker and gateway, with its pid. */
function printTable(): void {
  const rows = [['process', 'pid', 'address']]
  for (const s of servers) rows.push([s.name, String(s.pid), `${s.address} (monitor ${monitors.get(s)}; kept by pid ${s.proc.pid})`])
  for (const c of children) rows.push([c.name, String(c.pid), c.address])
  process.stdout.write(`\n${table(rows)}\n\n`)
}

async function main(): Promise<void> {
  const args = options()
  const topology = args.topology === undefined ? undefined : { file: args.topology, ...topologyPlan(args.topology, args.host) }
  if (topology !== undefined && args.plan) {
    process.stdout.write(`${describePlan(topology.plan, topology.file)}\n`)
    process.exit(0)
  }
  refuseDefaultsInProduction('start', process.env, {
    connections: [DEFAULT_CREDENTIAL_VARS, FEED_CREDENTIAL_VARS, READS_CREDENTIAL_VARS],
    adminPassword: true,
    feedKey: true,
  })
  process.once('exit', () => {
    for (const c of [...children, ...servers]) if (running(c)) killGroup(c)
  })
  process.once('SIGINT', () => void shutdown('SIGINT', 0))
  process.once('SIGTERM', () => void shutdown('SIGTERM', 0))
  process.once('SIGHUP', () => {
    // the terminal is gone: what is printed to it from now on fails, which must not stop the shutdown
    for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined)
    void shutdown('SIGHUP', 0)
  })
  // a topology starts its own servers (startTopology), and gives each process its host's
  const natsUrl = topology === undefined ? process.env.NATS_URL || (await startNats()) : ''
  const adminPassword = process.env.SWITCHBOARD_ADMIN_PASSWORD || DEV_ADMIN_PASSWORD
  if (!process.env.SWITCHBOARD_ADMIN_PASSWORD)
    say(`SWITCHBOARD_ADMIN_PASSWORD not set: admin account '${process.env.SWITCHBOARD_ADMIN_USER || 'admin'}' gets the dev default password (README, "Run it")`)
  // a dev machine registers many users from one address (npm run demo, the tests): 20 an hour would soon stop it
  const registrations = process.env.GATEWAY_REGISTRATIONS_PER_HOUR || (isProduction(process.env) ? '' : String(DEV_REGISTRATIONS_PER_HOUR))
  const env = { ...process.env, NATS_URL: natsUrl, SWITCHBOARD_ADMIN_PASSWORD: adminPassword, GATEWAY_REGISTRATIONS_PER_HOUR: registrations }
  // the modules yield the cores to the gateway and nats-server when they are full: its 429s stay quick
  const workerEnv = { ...env, [NICE_VAR]: process.env[NICE_VAR] || String(DEFAULT_WORKER_NICE) }
  if (topology !== undefined) return startTopology(topology.file, topology.plan, topology.hosts, args.data, env, workerEnv)
  const counts = new Map<string, number>()
  for (const module of WORKERS) {
    const n = (counts.get(module) ?? 0) + 1
    counts.set(module, n)
    const child = launch(`${module}#${n}`, ['services/worker.ts', module], workerEnv, /serving/)
    child.address = natsUrl
    children.push(child)
  }
  await Promise.all(children.map((c) => waitUntil(() => c.serving, `${c.name} to serve`, READY_TIMEOUT_MS, c)))
  const gateway = launch('gateway', ['services/gateway/main.ts'], env, /serving/)
  children.push(gateway)
  const urls = gatewayUrls(gateway)
  await waitUntil(() => gateway.serving, 'the gateway to serve', READY_TIMEOUT_MS, gateway)
  gateway.address = `${urls.ws} (via ${natsUrl})`

  printTable()
  say(
    `system ready. Web chat: ${urls.ws.replace(/^ws/, 'http')}/   Dashboard (this machine only): ${urls.ops || 'off'}   Terminal: npm run chat   Demo: npm run demo   (GATEWAY_URL=${urls.ws})   Stop: Ctrl-C`,
  )
}

main().catch((err) => void shutdown(`start failed: ${(err as Error).message}`, 1))
