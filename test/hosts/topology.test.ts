import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { alive, listening } from '../harness/probes.ts'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { freePort } from '../harness/index.ts'
import { spawnProcess } from '../harness/system.ts'
import { readTopology, type Topology } from '../../services/deploy/topology.ts'
import { planTopology, type Plan } from '../../services/deploy/plan.ts'

// Each shipped topology file, brought up by one command (`npm start -- --topology <file>`) on free ports, passes
// the demo through its gateway, and leaves nothing running after SIGTERM.

const SHIPPED = ['single', 'cluster', 'distributed', 'distributed-clustered'] as const

/** The environment of start.ts here: the dev seeds and defaults, whatever the shell that runs the tests has set. */
const ENV = {
  NATS_URL: undefined,
  SWITCHBOARD_CREDS_DIR: undefined,
  NATS_USER: undefined,
  NATS_PASS: undefined,
  NATS_READS_USER: undefined,
  NATS_READS_PASS: undefined,
  NATS_FEED_USER: undefined,
  NATS_FEED_PASS: undefined,
  SWITCHBOARD_ADMIN_PASSWORD: undefined,
  SWITCHBOARD_METRICS_PORT: undefined,
  GATEWAY_PORT: undefined,
  GATEWAY_OPS_PORT: undefined,
}

/** A temp dir for `t`, removed at teardown. */
function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'sb-topology-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** `topology` with every port it names replaced by a free one (none twice): it cannot clash with npm start's or another test's. */
async function onFreePorts(topology: Topology): Promise<Topology> {
  const taken = new Set<number>()
  const next = async () => {
    for (;;) {
      const p = await freePort()
      if (!taken.has(p)) return (taken.add(p), p)
    }
  }
  const copy = structuredClone(topology) as { -readonly [K in keyof Topology]: Topology[K] }
  for (const h of copy.hosts as { nats: Record<string, number>; gateways?: { port: number; ops?: number | 'off' }[] }[]) {
    for (const key of Object.keys(h.nats)) h.nats[key] = await next()
    for (const g of h.gateways ?? []) {
      g.port = await next()
      if (typeof g.ops === 'number') g.ops = await next()
    }
  }
  return copy
}

/** Every process of start.ts's table by name (a nats-server's keeper as `<host>/nats-keeper`), with its pid. */
function tablePids(output: string): Map<string, number> {
  const pids = new Map<string, number>()
  for (const line of output.split('\n')) {
    const row = /^([a-z0-9-]+\/(?:nats-server|[a-z+]+#\d+))\s+(\d+)\s/.exec(line)
    if (row === null) continue
    pids.set(row[1]!, Number(row[2]))
    const keeper = /kept by pid (\d+)/.exec(line)
    if (keeper !== null) pids.set(row[1]!.replace('nats-server', 'nats-keeper'), Number(keeper[1]))
  }
  return pids
}

/** Every name the table must list for `plan`: servers, module processes, gateways. */
const expectedNames = (plan: Plan) =>
  plan.hosts.flatMap((h) => [`${h.name}/nats-server`, `${h.name}/nats-keeper`, ...h.processes.map((p) => p.name), ...h.gateways.map((g) => g.name)]).sort()

/** The streams a server keeps a replica of, with their configured replicas. */
async function streamReplicas(monitorUrl: string): Promise<Record<string, number>> {
  const jsz = (await (await fetch(`${monitorUrl}/jsz?streams=true&config=true`)).json()) as {
    account_details?: { stream_detail?: { name: string; config?: { num_replicas?: number } }[] }[]
  }
  return Object.fromEntries((jsz.account_details ?? []).flatMap((a) => (a.stream_detail ?? []).map((s) => [s.name, s.config?.num_replicas ?? 1])))
}

for (const name of SHIPPED) {
  t.test(
    `start - --topology deploy/${name}.json: one command brings it up (a server per host, one cluster), the demo passes, SIGTERM leaves nothing`,
    async (t) => {
      const dir = tempDir(t)
      const topology = await onFreePorts(readTopology(`deploy/${name}.json`))
      const file = join(dir, `${name}.json`)
      writeFileSync(file, JSON.stringify(topology, null, 2))
      const plan = planTopology(topology)
      const start = spawnProcess(t, ['scripts/start.ts', '--topology', file, '--data', join(dir, 'data')], ENV, `start ${name}`)
      const pids = new Map<string, number>()
      t.teardown(() => {
        for (const pid of pids.values()) if (alive(pid)) process.kill(pid, 'SIGKILL')
      })
      await start.waitFor(/\[start\] system ready/, 75_000)
      for (const [n, pid] of tablePids(start.output())) pids.set(n, pid)
      t.same([...pids.keys()].sort(), expectedNames(plan), 'the table lists every process of the plan, each nats-server with its keeper')
      t.same(
        [...pids].filter(([, pid]) => !alive(pid)),
        [],
        'all of them run',
      )
      t.notMatch(start.output(), /Plaintext passwords/, 'the shipped permissions: every role logs in with its nkey')

      // every module process connects to its own host's server
      for (const h of plan.hosts) {
        for (const p of h.processes) {
          const lines = start.output().match(new RegExp(`^\\[${p.name.replace(/[+#]/g, '\\$&')}\\] \\w+ worker \\S+ serving .* via (\\S+)$`, 'gm')) ?? []
          t.same(
            lines.map((l) => l.split(' via ')[1]),
            p.modules.map(() => h.server.listen),
            `${p.name} serves ${p.modules.join(', ')} via ${h.server.listen}`,
          )
        }
      }
      const monitor = plan.hosts[0]!.server.monitorUrl
      if (plan.hosts.length > 1) {
        const jsz = (await (await fetch(`${monitor}/jsz`)).json()) as { meta_cluster?: { cluster_size?: number; leader?: string } }
        t.equal(jsz.meta_cluster?.cluster_size, plan.hosts.length, `one JetStream cluster of ${plan.hosts.length} servers`)
      }

      const gateway = plan.hosts.flatMap((h) => h.gateways)[0]!
      const demo = spawnProcess(t, ['scripts/demo.ts'], { GATEWAY_URL: gateway.url, SWITCHBOARD_ADMIN_PASSWORD: undefined }, `demo ${name}`)
      t.equal(await demo.exited, 0, `the demo passes through ${gateway.name}`, { output: demo.output() })
      t.match(demo.output(), /(\d+)\/\1 expected outcomes held/)

      // a server lists the streams it keeps a replica of: with one replica, each stream is on one of them
      const replicas = Object.assign({}, ...(await Promise.all(plan.hosts.map((h) => streamReplicas(h.server.monitorUrl))))) as Record<string, number>
      t.ok(Object.keys(replicas).length >= 10, `the modules' buckets and stream exist (${Object.keys(replicas).join(', ')})`)
      t.same(
        Object.entries(replicas).filter(([, r]) => r !== plan.replicas),
        [],
        `every bucket and stream has the file's ${plan.replicas} replica${plan.replicas === 1 ? '' : 's'}`,
      )

      t.equal(await start.stop('SIGTERM', 30_000), 0, 'start.ts exits 0 on SIGTERM')
      t.match(start.output(), /\[start\] stopped/)
      t.same(
        [...pids].filter(([, pid]) => alive(pid)),
        [],
        'no process is left: workers, gateways, nats-servers and their keepers',
      )
      const ports = topology.hosts.flatMap((h) => [
        ...Object.values(h.nats),
        ...(h.gateways ?? []).flatMap((g) => [g.port, ...(typeof g.ops === 'number' ? [g.ops] : [])]),
      ])
      const held = []
      for (const p of ports) if (await listening(p)) held.push(p)
      t.same(held, [], 'and every port of the file is free')
    },
  )
}

t.test('start - --host: one command per host (deploy/distributed.json as three machines) forms one cluster, the demo passes, SIGTERM stops each', async (t) => {
  const dir = tempDir(t)
  const topology = await onFreePorts(readTopology('deploy/distributed.json'))
  const file = join(dir, 'distributed.json')
  writeFileSync(file, JSON.stringify(topology, null, 2))
  const plan = planTopology(topology)
  const pids = new Map<string, number>()
  t.teardown(() => {
    for (const pid of pids.values()) if (alive(pid)) process.kill(pid, 'SIGKILL')
  })
  // each "machine" has its own data directory, as it would have its own disk
  const hosts = plan.hosts.map((h) => ({
    h,
    start: spawnProcess(t, ['scripts/start.ts', '--topology', file, '--host', h.name, '--data', join(dir, h.name)], ENV, `start --host ${h.name}`),
  }))
  await Promise.all(hosts.map(({ start }) => start.waitFor(/\[start\] system ready/, 75_000)))
  for (const { h, start } of hosts) {
    const names = [...tablePids(start.output())].map(([n, pid]) => (pids.set(n, pid), n)).sort()
    t.same(names, expectedNames({ ...plan, hosts: [h] }), `${h.name} runs its own part only`)
    t.match(start.output(), new RegExp(`system ready: topology distributed \\(host ${h.name} of host1, host2, host3\\)`))
  }
  const jsz = (await (await fetch(`${plan.hosts[0]!.server.monitorUrl}/jsz`)).json()) as { meta_cluster?: { cluster_size?: number } }
  t.equal(jsz.meta_cluster?.cluster_size, 3, 'the three servers form one JetStream cluster')
  const gateway = plan.hosts[2]!.gateways[0]!
  const demo = spawnProcess(t, ['scripts/demo.ts'], { GATEWAY_URL: gateway.url, SWITCHBOARD_ADMIN_PASSWORD: undefined }, 'demo --host')
  t.equal(await demo.exited, 0, `the demo passes through ${gateway.name}, its calls crossing the hosts`, { output: demo.output() })
  t.same(await Promise.all(hosts.map(({ start }) => start.stop('SIGTERM', 30_000))), [0, 0, 0], 'each host stops on SIGTERM, exit 0')
  t.same(
    [...pids].filter(([, pid]) => alive(pid)),
    [],
    'no process is left on any host',
  )
})

t.test('start - --topology refuses a bad file, an unknown host and NATS_URL before it starts anything; --plan prints one command per host', async (t) => {
  const dir = tempDir(t)
  const bad = join(dir, 'bad.json')
  const good = readTopology('deploy/distributed.json')
  writeFileSync(bad, JSON.stringify({ ...good, replicas: 4, hosts: [{ ...good.hosts[0], modules: { usr: 1 } }, ...good.hosts.slice(1)] }))
  const cases: [string, string[], Record<string, string | undefined>, number, RegExp][] = [
    [
      'a bad file',
      ['--topology', bad],
      {},
      2,
      /bad\.json is not a valid topology:\n {2}hosts\[0\]\.modules\.usr: unknown module 'usr'.*\n(.*\n)* {2}replicas: 4 needs at least 4 hosts/,
    ],
    ['an unknown host', ['--topology', 'deploy/distributed.json', '--host', 'host9'], {}, 2, /has no host 'host9' \(its hosts: host1, host2, host3\)/],
    ['a stray option', ['--host', 'host1'], {}, 2, /--host, --data and --plan go with --topology\nusage: npm start/],
    ['NATS_URL', ['--topology', 'deploy/single.json'], { NATS_URL: 'nats://127.0.0.1:1' }, 1, /NATS_URL and --topology do not go together/],
  ]
  for (const [what, args, env, code, message] of cases) {
    const p = spawnProcess(t, ['scripts/start.ts', ...args], { ...ENV, ...env }, what)
    t.equal(await p.exited, code, `${what}: exits ${code}`)
    t.match(p.output(), message, `${what}: says why`)
    t.notMatch(p.output(), /nats-server|serving/, `${what}: nothing started`)
  }
  const plan = spawnProcess(t, ['scripts/start.ts', '--topology', 'deploy/distributed-clustered.json', '--plan'], ENV, 'plan')
  t.equal(await plan.exited, 0)
  for (const host of ['host1', 'host2', 'host3']) {
    t.match(plan.output(), new RegExp(`host ${host} \\(127\\.0\\.0\\.1\\): npm start -- --topology deploy/distributed-clustered\\.json --host ${host}`))
  }
  t.match(plan.output(), /host2\/user#3 \(standby\): user/)
  const multi = spawnProcess(t, ['services/multi-worker.ts', 'user', 'friend'], { ...ENV, NATS_USER: 'user' }, 'multi-worker')
  t.equal(await multi.exited, 2, 'services/multi-worker.ts refuses NATS_USER, which names one user for several modules')
  t.match(multi.output(), /NATS_USER names one NATS user, and each module of this process logs in as its own role/)
})
