import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { parseTopology, readTopology, topologyIssues, TopologyError, type Topology } from '../../services/deploy/topology.ts'
import { describePlan, gatewayEnv, hostCommand, hostOf, moduleEnv, natsServerConf, peersNeeded, planTopology, startWaves } from '../../services/deploy/plan.ts'
import { MODULE_NAMES } from '../../services/registry.ts'

const SHIPPED = ['single', 'cluster', 'distributed', 'distributed-clustered'] as const
const shipped = (name: string) => readTopology(`deploy/${name}.json`)

/** A small valid topology: two hosts, every module, a gateway. */
function base(): Topology {
  return {
    name: 'two',
    replicas: 2,
    hosts: [
      {
        name: 'a',
        address: '127.0.0.1',
        nats: { client: 4222, cluster: 6222, monitor: 8222 },
        modules: { user: 2, message: 1 },
        gateways: [{ port: 8080, ops: 8081 }],
      },
      { name: 'b', address: '127.0.0.1', nats: { client: 4223, cluster: 6223, monitor: 8223 }, modules: { friend: 1, group: 1, admin: 1 } },
    ],
  }
}

/** `base()` changed by `change` (which may mutate it freely). */
// biome-ignore lint/suspicious/noExplicitAny: the bad files are made by mutating a good one anywhere
type Loose = Record<string, any>
function variant(change: (t: Loose) => void): unknown {
  const t = structuredClone(base()) as Loose
  change(t)
  return t
}

t.test('topology - the four shipped files check, and plan the deployments of the design', async (t) => {
  const plans = Object.fromEntries(SHIPPED.map((n) => [n, planTopology(shipped(n))]))
  const names = (n: string) => plans[n]!.hosts.flatMap((h) => [...h.processes.map((p) => p.name), ...h.gateways.map((g) => g.name)])
  const modules = (n: string) =>
    plans[n]!.hosts.flatMap((h) => h.processes.flatMap((p) => p.modules))
      .filter((m, i, all) => all.indexOf(m) === i)
      .sort()
  for (const n of SHIPPED) t.same(modules(n), [...MODULE_NAMES].sort(), `${n}: every module runs somewhere`)

  t.same(names('single'), ['host1/all#1', 'host1/gateway#1'], 'single: every module in one process, and a gateway')
  t.equal(plans.single!.replicas, 1)
  t.same(plans.single!.hosts[0]!.server.routes, [], 'one server, no cluster')

  t.same(
    names('cluster'),
    ['host1/all#1', 'host1/gateway#1', 'host2/all#2', 'host2/gateway#2', 'host3/all#3', 'host3/gateway#3'],
    'cluster: every host runs the same program (every module, a gateway)',
  )
  t.equal(plans.cluster!.replicas, 3, 'with three replicas of the state')
  t.same(
    plans.distributed!.hosts.map((h) => [h.name, h.processes.map((p) => p.modules.join('+')), h.gateways.length]),
    [
      ['host1', ['user', 'message'], 0],
      ['host2', ['friend', 'group'], 0],
      ['host3', ['admin'], 1],
    ],
    'distributed: each module on its host, a process each, the gateway on host3',
  )
  const dc = plans['distributed-clustered']!
  t.same(
    dc.hosts.map((h) => [h.name, h.processes.map((p) => `${p.name}${p.standby ? ' standby' : ''}`), h.gateways.map((g) => g.name)]),
    [
      ['host1', ['host1/user#1', 'host1/user#2', 'host1/message#1', 'host1/message#2'], []],
      ['host2', ['host2/friend+group#1', 'host2/user#3 standby'], ['host2/gateway#1']],
      ['host3', ['host3/admin#1', 'host3/message#3 standby'], ['host3/gateway#2']],
    ],
    'distributed + clustered: the busy modules twice, a standby of each on another host, friend and group in one process, two gateways',
  )
  t.equal(dc.replicas, 3)
  for (const n of SHIPPED) {
    const ports = plans[n]!.hosts.flatMap((h) => [h.server.listen, h.server.clusterListen, h.server.monitorListen, ...h.gateways.map((g) => `:${g.port}`)])
    t.equal(new Set(ports).size, ports.length, `${n}: every simulated host has ports of its own`)
    t.ok(
      plans[n]!.hosts.every((h) => h.address === '127.0.0.1'),
      `${n}: on loopback`,
    )
  }
})

t.test('topology - the processes: arguments, environment, names', async (t) => {
  const plan = planTopology(shipped('distributed-clustered'))
  const host2 = hostOf(plan, 'host2')
  t.same(host2.processes[0]!.args, ['services/multi-worker.ts', 'friend', 'group'], 'modules in one process run under services/multi-worker.ts')
  t.same(host2.processes[1]!.args, ['services/worker.ts', 'user'], 'one module under services/worker.ts')
  t.notMatch('friend worker x serving rpc.friend.* (add) via 127.0.0.1:4223', host2.processes[0]!.ready, 'ready once every module serves')
  t.match('serving 2 modules in one process: friend, group (pid 1)', host2.processes[0]!.ready)
  t.match('user worker x serving rpc.user.* (register) via 127.0.0.1:4223', host2.processes[1]!.ready)
  t.same(moduleEnv(plan, host2), { NATS_URL: 'nats://127.0.0.1:4223', SWITCHBOARD_REPLICAS: '3' }, "a module connects to its own host's server")
  t.same(gatewayEnv(host2, host2.gateways[0]!), {
    NATS_URL: 'nats://127.0.0.1:4223',
    GATEWAY_PORT: '8080',
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_OPS_PORT: '8081',
  })
  t.throws(() => hostOf(plan, 'host9'), /has no host 'host9' \(its hosts: host1, host2, host3\)/)
  t.equal(hostCommand('deploy/x.json', 'host2'), 'npm start -- --topology deploy/x.json --host host2')
  const text = describePlan(plan, 'deploy/distributed-clustered.json')
  t.match(text, /host host3 \(127\.0\.0\.1\): npm start -- --topology deploy\/distributed-clustered\.json --host host3/)
  t.match(text, /host3\/message#3 \(standby\): message/)
  t.equal(peersNeeded(plan), 2, 'three replicas: every other server routed')
  t.equal(peersNeeded(planTopology(shipped('distributed'))), 1, 'one replica of three hosts: a majority, one other server')
  t.equal(peersNeeded(planTopology(shipped('single'))), 0)
  t.same(
    startWaves(plan.hosts).map((wave) => wave.map(({ p }) => p.name)),
    [
      ['host1/user#1', 'host1/message#1', 'host2/friend+group#1', 'host3/admin#1'],
      ['host1/user#2', 'host1/message#2', 'host2/user#3', 'host3/message#3'],
    ],
    "the first process of each module starts alone (it creates the module's state), the other copies once it serves",
  )
  t.same(
    startWaves(planTopology(shipped('cluster')).hosts).map((wave) => wave.map(({ p }) => p.name)),
    [['host1/all#1'], ['host2/all#2', 'host3/all#3']],
  )
  t.same(
    startWaves(planTopology(shipped('distributed')).hosts).map((wave) => wave.length),
    [5],
    'one copy of each module: one wave',
  )
  const single = planTopology(shipped('single'))
  t.same(single.hosts[0]!.processes[0]!.args, ['services/multi-worker.ts', ...MODULE_NAMES])
  const open = planTopology(parseTopology(variant((x) => (x.hosts[0].gateways = [{ port: 9000, host: '0.0.0.0' }]))))
  t.same(open.hosts[0]!.gateways[0], { name: 'a/gateway#1', port: 9000, listenHost: '0.0.0.0', ops: 'off', url: 'ws://127.0.0.1:9000' }, 'ops off by default')
})

t.test("topology - a host's nats-server config: its name, listeners, JetStream store, routes to every host, the shipped permissions", async (t) => {
  const plan = planTopology(shipped('cluster'))
  const conf = natsServerConf(plan, plan.hosts[1]!, { storeDir: '/var/sb/host2', include: '../../config/permissions.conf', maxPayload: 1048576 })
  t.match(conf, /^server_name: cluster-host2$/m)
  t.match(conf, /^listen: 127\.0\.0\.1:4223$/m)
  t.match(conf, /^http: 127\.0\.0\.1:8223$/m, 'the monitor on loopback')
  t.match(conf, /jetstream \{\n {2}store_dir: "\/var\/sb\/host2"\n {2}max_memory_store: 256MB\n {2}max_file_store: 2GB\n\}/)
  t.match(conf, /^max_payload: 1048576$/m)
  t.match(
    conf,
    /cluster \{\n {2}name: cluster\n {2}listen: 127\.0\.0\.1:6223\n {2}routes: \[\n {4}nats-route:\/\/127\.0\.0\.1:6222\n {4}nats-route:\/\/127\.0\.0\.1:6223\n {4}nats-route:\/\/127\.0\.0\.1:6224\n {2}\]\n\}/,
  )
  t.match(conf, /^include "\.\.\/\.\.\/config\/permissions\.conf"$/m)
  const single = planTopology(shipped('single'))
  const one = natsServerConf(single, single.hosts[0]!, { storeDir: 'd', include: 'p.conf', maxPayload: 1 })
  t.notMatch(one, /cluster/, 'one host: no cluster block')
  const named = planTopology(parseTopology(variant((x) => (x.cluster = 'prod'))))
  t.match(natsServerConf(named, named.hosts[0]!, { storeDir: 'd', include: 'p', maxPayload: 1 }), /^ {2}name: prod$/m, 'the cluster name the file gives')
})

/** Each bad file, and the issue (path and words) it must be refused with. */
const BAD: [string, unknown, string, RegExp][] = [
  [
    'an unknown module',
    variant((x) => (x.hosts[1].modules.usr = 1)),
    'hosts[1].modules.usr',
    /unknown module 'usr' \(the modules: user, friend, group, message, admin\)/,
  ],
  [
    'a port used twice on one address',
    variant((x) => (x.hosts[1].nats.client = 4222)),
    'hosts[1].nats.client',
    /port 4222 on 127\.0\.0\.1 is taken by hosts\[0\]\.nats\.client/,
  ],
  [
    "a gateway on a server's port",
    variant((x) => (x.hosts[0].gateways[0].port = 8223)),
    'hosts[1].nats.monitor',
    /port 8223 on 127\.0\.0\.1 is taken by hosts\[0\]\.gateways\[0\]\.port/,
  ],
  [
    'more replicas than hosts',
    variant((x) => (x.replicas = 3)),
    'replicas',
    /3 needs at least 3 hosts \(JetStream keeps each replica on another server\); the topology has 2/,
  ],
  ['more replicas than JetStream keeps', variant((x) => (x.replicas = 6)), 'replicas', /must be replicas, from 1 to 5, got 6/],
  [
    'an unknown field',
    variant((x) => (x.hosts[0].modlues = {})),
    'hosts[0].modlues',
    /unknown field \(the fields: name, address, nats, modules, standby, process, groups, gateways\)/,
  ],
  ['a missing field', variant((x) => delete x.hosts[1].nats.client), 'hosts[1].nats.client', /is required/],
  ['a port out of range', variant((x) => (x.hosts[0].nats.monitor = 70000)), 'hosts[0].nats.monitor', /must be a TCP port \(1-65535\), got 70000/],
  ['a bad host name', variant((x) => (x.hosts[0].name = 'Host 1')), 'hosts[0].name', /must be lowercase letters, digits and '-' \(at most 63\), got "Host 1"/],
  ['an unknown process kind', variant((x) => (x.hosts[0].process = 'double')), 'hosts[0].process', /must be 'separate' or 'single'/],
  ['a bad ops port', variant((x) => (x.hosts[0].gateways[0].ops = 'on')), 'hosts[0].gateways[0].ops', /must be a TCP port \(1-65535\) or 'off'/],
  ['zero copies', variant((x) => (x.hosts[0].modules.user = 0)), 'hosts[0].modules.user', /must be copies, from 1 to 64, got 0/],
  ['no hosts', variant((x) => (x.hosts = [])), 'hosts', /must list at least 1/],
  ['copies that are no number', variant((x) => (x.hosts[0].modules.user = 'two')), 'hosts[0].modules.user', /must be copies, from 1 to 64, got "two"/],
  ['a file that is no object', 42, '', /must be object, got 42/],
  ['two hosts of one name', variant((x) => (x.hosts[1].name = 'a')), 'hosts[1].name', /'a' is the name of hosts\[0\] too/],
  [
    'hosts without cluster ports',
    variant((x) => delete x.hosts[0].nats.cluster),
    'hosts[0].nats.cluster',
    /is required when the topology has more than one host/,
  ],
  [
    'a standby beside its primary',
    variant((x) => (x.hosts[0].standby = { user: 1 })),
    'hosts[0].standby.user',
    /user also runs on this host: a standby copy belongs on another host/,
  ],
  [
    'a standby with no primary elsewhere',
    variant((x) => {
      delete x.hosts[1].modules.admin
      x.hosts[0].standby = { admin: 1 }
    }),
    'hosts[0].standby.admin',
    /no other host runs admin: a standby copy stands by for the copies of another host/,
  ],
  ['a group of an unknown module', variant((x) => (x.hosts[1].groups = [['friend', 'grup']])), 'hosts[1].groups[0][1]', /unknown module 'grup'/],
  [
    'a group of a module the host does not run',
    variant((x) => (x.hosts[1].groups = [['friend', 'user']])),
    'hosts[1].groups[0][1]',
    /user is not in hosts\[1\]\.modules/,
  ],
  [
    'a module in two groups',
    variant((x) => (x.hosts[1].groups = [['friend'], ['friend', 'group']])),
    'hosts[1].groups[1][0]',
    /friend is in hosts\[1\]\.groups\[0\] already/,
  ],
  [
    'a group of unequal copies',
    variant((x) => (x.hosts[0].groups = [['user', 'message']])),
    'hosts[0].groups[0]',
    /the modules of one process run the same number of copies \(a process serves one copy of each\): user 2, message 1/,
  ],
  ['process "single" of unequal copies', variant((x) => (x.hosts[0].process = 'single')), 'hosts[0].process', /same number of copies.*user 2, message 1/],
  [
    'process "single" with groups',
    variant((x) => ((x.hosts[1].process = 'single'), (x.hosts[1].groups = [['friend']]))),
    'hosts[1].groups',
    /cannot go with process "single"/,
  ],
  ['a module on no host', variant((x) => delete x.hosts[1].modules.admin), 'hosts', /no host runs module admin/],
  ['no gateway', variant((x) => delete x.hosts[0].gateways), 'hosts', /no host runs a gateway/],
]

t.test('topology - a bad file is refused with an issue naming its path and what is wrong', async (t) => {
  t.same(topologyIssues(base()), [], 'the base file is valid')
  for (const [what, value, path, message] of BAD) {
    const issues = topologyIssues(value)
    const hit = issues.find((i) => i.path === path && message.test(i.message))
    t.ok(hit, `${what}: ${path}: ${message}`, { issues })
    t.throws(() => parseTopology(value, 'deploy/bad.json'), TopologyError, `${what}: parseTopology throws`)
  }
  const err = (() => {
    try {
      parseTopology(
        variant((x) => ((x.hosts[0].modules.usr = 1), (x.hosts[1].nats.client = 4222), (x.replicas = 3))),
        'deploy/bad.json',
      )
    } catch (e) {
      return e as TopologyError
    }
  })()
  t.ok(err instanceof TopologyError)
  t.equal(err!.issues.length, 3, 'every issue at once')
  t.equal(
    err!.message,
    [
      'deploy/bad.json is not a valid topology:',
      "  hosts[0].modules.usr: unknown module 'usr' (the modules: user, friend, group, message, admin)",
      '  hosts[1].nats.client: port 4222 on 127.0.0.1 is taken by hosts[0].nats.client',
      '  replicas: 3 needs at least 3 hosts (JetStream keeps each replica on another server); the topology has 2',
    ].join('\n'),
    'one line per issue, each with its path',
  )
  t.same(topologyIssues(variant((x) => (x.hosts[1].address = '10.0.0.2'))), [], 'on other machines the same ports are fine')
})

t.test('topology - readTopology names the file that cannot be read or is no JSON', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-topology-'))
  writeFileSync(join(dir, 'broken.json'), '{ "name": ')
  t.throws(() => readTopology(join(dir, 'broken.json')), { name: 'TopologyError', message: /broken\.json is not a valid topology:\n {2}\(file\): not JSON/ })
  t.throws(() => readTopology(join(dir, 'missing.json')), { message: /missing\.json is not a valid topology:\n {2}\(file\): cannot read it: ENOENT/ })
  writeFileSync(join(dir, 'ok.json'), JSON.stringify(base()))
  t.same(readTopology(join(dir, 'ok.json')), base())
})
