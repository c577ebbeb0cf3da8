/**
 * Topology files (`deploy/*.json`): which hosts a deployment has, the nats-server of each (one per host, all in one
 * cluster), which chat modules run on each and how many copies, its gateways, and the JetStream replicas of the
 * state. `npm start -- --topology <file>` brings one up on this machine; `--host <name>` starts one host's part, the
 * command each real machine runs (docs/operate.md, "Topology files"). services/deploy/plan.ts turns a checked file into
 * the processes to run.
 *
 * Checking is two steps, both pure: the shape against {@link TopologySchema} (compiled once), then what a schema cannot
 * say (known modules, distinct ports per machine, replicas within the hosts, a standby on another host, ...). Every
 * problem is reported with its path in the file (`hosts[1].modules.usr: unknown module ...`).
 */
import { readFileSync } from 'node:fs'
import Type, { type Static } from 'typebox'
import { Compile } from 'typebox/compile'
import { MODULE_NAMES, isModuleName, type ModuleName } from '../registry.ts'

/** JetStream keeps at most this many replicas of a bucket or stream. */
export const MAX_REPLICAS = 5
/** The replicas of every bucket and stream when a file names none. */
export const DEFAULT_REPLICAS = 1
/** How a host runs its modules when it does not say: a process per copy of each module. */
export const DEFAULT_PROCESS = 'separate'

const Port = Type.Integer({ minimum: 1, maximum: 65_535, description: 'a TCP port (1-65535)' })
const Name = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$', description: "lowercase letters, digits and '-' (at most 63)" })
const Copies = Type.Integer({ minimum: 1, maximum: 64, description: 'copies, from 1 to 64' })
const ModuleCopies = Type.Record(Type.String(), Copies, { description: 'module name to copies' })

/** The nats-server of a host: its client port (on the host's address), route port and monitor port (on loopback). */
export const NatsPortsSchema = Type.Object(
  {
    client: Port,
    /** Where the other hosts' servers route to this one; needed when the topology has more than one host. */
    cluster: Type.Optional(Port),
    /** The monitoring endpoint (/varz, /jsz), bound to 127.0.0.1 of the host. */
    monitor: Port,
  },
  { additionalProperties: false },
)

/** A gateway process of a host. */
export const GatewaySchema = Type.Object(
  {
    /** The chat listener (page and WebSocket), GATEWAY_PORT. */
    port: Port,
    /** The operations listener on 127.0.0.1 (GATEWAY_OPS_PORT), or `off` (the default). */
    ops: Type.Optional(Type.Union([Port, Type.Literal('off')])),
    /** The address the chat listener binds (GATEWAY_HOST): the host's address by default; `0.0.0.0` for every interface. */
    host: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9.-]+$', description: 'an IPv4 address or a host name' })),
  },
  { additionalProperties: false },
)

/** One machine of a deployment. */
export const HostSchema = Type.Object(
  {
    name: Name,
    /** The machine's address, where its nats-server listens and the other hosts reach it: 127.0.0.1 on one machine. */
    address: Type.String({ pattern: '^[A-Za-z0-9.-]+$', description: 'an IPv4 address or a host name' }),
    nats: NatsPortsSchema,
    /** The modules it runs, with their copies: `{ "user": 2, "message": 1 }`. */
    modules: Type.Optional(ModuleCopies),
    /**
     * Copies of modules whose other copies run on other hosts, there to keep the module served when those hosts
     * fail. NATS queue groups have no passive member: a standby copy serves too (mostly the calls made through its own
     * host's server, which NATS hands to a local subscriber first).
     */
    standby: Type.Optional(ModuleCopies),
    /** `separate` (default): a process per copy of each module; `single`: one process serves one copy of every module of the host. */
    process: Type.Optional(Type.Union([Type.Literal('separate'), Type.Literal('single')])),
    /** Modules run together: each list is one process serving one copy of each of its modules (their copies equal). */
    groups: Type.Optional(Type.Array(Type.Array(Type.String(), { minItems: 1 }), { minItems: 1 })),
    gateways: Type.Optional(Type.Array(GatewaySchema)),
  },
  { additionalProperties: false },
)

/** A topology file. */
export const TopologySchema = Type.Object(
  {
    /** Names the deployment: its servers are `<name>-<host>`, its default store `data/topologies/<name>`. */
    name: Name,
    description: Type.Optional(Type.String()),
    /** The NATS cluster's name (default: the topology's name). */
    cluster: Type.Optional(Name),
    /** JetStream replicas of every bucket and stream (SWITCHBOARD_REPLICAS), at most the number of hosts; default 1. */
    replicas: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_REPLICAS, description: `replicas, from 1 to ${MAX_REPLICAS}` })),
    hosts: Type.Array(HostSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
)

export type Topology = Static<typeof TopologySchema>
export type TopologyHost = Static<typeof HostSchema>
export type TopologyGateway = Static<typeof GatewaySchema>

const validator = Compile(TopologySchema)

/** One problem of a topology: where in the file (`hosts[0].nats.client`, `` for the whole file) and what. */
export interface TopologyIssue {
  readonly path: string
  readonly message: string
}

/** A topology that does not check; its message lists every issue, one a line, each with its path. */
export class TopologyError extends Error {
  override readonly name = 'TopologyError'
  constructor(
    readonly source: string,
    readonly issues: readonly TopologyIssue[],
  ) {
    super(`${source} is not a valid topology:\n${issues.map((i) => `  ${i.path === '' ? '(file)' : i.path}: ${i.message}`).join('\n')}`)
  }
}

/** `/hosts/0/nats/client` → `hosts[0].nats.client`. */
function pathOf(pointer: string): string {
  let out = ''
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replaceAll('~1', '/').replaceAll('~0', '~')
    out += /^\d+$/.test(part) ? `[${part}]` : out === '' ? part : `.${part}`
  }
  return out
}

const join = (path: string, key: string) => (path === '' ? key : `${path}.${key}`)

/** The sub-schema of TopologySchema at a schema path (`#/properties/hosts/items`). */
function schemaAt(schemaPath: string): Record<string, unknown> | undefined {
  let s: unknown = TopologySchema
  for (const part of schemaPath.replace(/^#\/?/, '').split('/').filter(Boolean)) s = (s as Record<string, unknown> | undefined)?.[part]
  return s as Record<string, unknown> | undefined
}

/** What a schema accepts, in words: `'off'`, `a TCP port (1-65535)`. */
function describe(schema: Record<string, unknown> | undefined): string {
  if (schema === undefined) return '?'
  if ('const' in schema) return `'${String(schema.const)}'`
  if (typeof schema.description === 'string') return schema.description
  return String(schema.type ?? 'something else')
}

/** The schema errors of `value`, in words, one issue per problem. */
function shapeIssues(value: unknown): TopologyIssue[] {
  const issues: TopologyIssue[] = []
  for (const e of validator.Errors(value)) {
    const path = pathOf(e.instancePath)
    const params = e.params as Record<string, unknown>
    // the branches of a union fail one by one; its own error says it once
    if (e.schemaPath.includes('/anyOf/') || e.keyword === 'boolean') continue
    const schema = schemaAt(e.schemaPath)
    switch (e.keyword) {
      case 'required':
        for (const key of params.requiredProperties as string[]) issues.push({ path: join(path, key), message: 'is required' })
        break
      case 'additionalProperties': {
        const known = Object.keys((schema?.properties as object | undefined) ?? {}).join(', ')
        for (const key of params.additionalProperties as string[]) issues.push({ path: join(path, key), message: `unknown field (the fields: ${known})` })
        break
      }
      case 'anyOf':
        issues.push({ path, message: `must be ${((schema?.anyOf as Record<string, unknown>[] | undefined) ?? []).map(describe).join(' or ')}` })
        break
      case 'type':
      case 'pattern':
      case 'minimum':
      case 'maximum':
        issues.push({ path, message: `must be ${describe(schema)}, got ${JSON.stringify(valueAt(value, e.instancePath))}` })
        break
      case 'minItems':
        issues.push({ path, message: `must list at least ${String(params.limit ?? 1)}` })
        break
      default:
        issues.push({ path, message: e.message })
    }
  }
  return issues
}

function valueAt(value: unknown, pointer: string): unknown {
  let v = value
  for (const part of pointer.split('/').slice(1)) v = (v as Record<string, unknown> | undefined)?.[part]
  return v
}

/** The modules of a host's `modules` (or `standby`) record that are module names, in start order. */
export function modulesOf(copies: Readonly<Record<string, number>> | undefined): ModuleName[] {
  return MODULE_NAMES.filter((m) => copies?.[m] !== undefined)
}

/** What a schema cannot check of a topology whose shape is right. */
function meaningIssues(t: Topology): TopologyIssue[] {
  const issues: TopologyIssue[] = []
  const add = (path: string, message: string) => issues.push({ path, message })
  const known = `the modules: ${MODULE_NAMES.join(', ')}`
  const names = new Map<string, number>()
  // every port a machine binds, by address: what listens on one machine must not share a port
  const ports = new Map<string, string>()
  const port = (address: string, p: number | undefined, path: string) => {
    if (p === undefined) return
    const key = `${address}:${p}`
    const first = ports.get(key)
    if (first === undefined) ports.set(key, path)
    else add(path, `port ${p} on ${address} is taken by ${first}`)
  }
  t.hosts.forEach((h, i) => {
    const at = `hosts[${i}]`
    const first = names.get(h.name)
    if (first !== undefined) add(`${at}.name`, `'${h.name}' is the name of hosts[${first}] too`)
    else names.set(h.name, i)
    if (h.nats.cluster === undefined && t.hosts.length > 1)
      add(`${at}.nats.cluster`, 'is required when the topology has more than one host: the servers route to each other there')
    port(h.address, h.nats.client, `${at}.nats.client`)
    port(h.address, h.nats.cluster, `${at}.nats.cluster`)
    port(h.address, h.nats.monitor, `${at}.nats.monitor`)
    h.gateways?.forEach((g, j) => {
      port(h.address, g.port, `${at}.gateways[${j}].port`)
      if (typeof g.ops === 'number') port(h.address, g.ops, `${at}.gateways[${j}].ops`)
    })
    for (const field of ['modules', 'standby'] as const) {
      for (const name of Object.keys(h[field] ?? {})) {
        if (!isModuleName(name)) add(`${at}.${field}.${name}`, `unknown module '${name}' (${known})`)
      }
    }
    for (const name of modulesOf(h.standby)) {
      if (h.modules?.[name] !== undefined) add(`${at}.standby.${name}`, `${name} also runs on this host: a standby copy belongs on another host`)
      else if (!t.hosts.some((o) => o !== h && o.modules?.[name] !== undefined))
        add(`${at}.standby.${name}`, `no other host runs ${name}: a standby copy stands by for the copies of another host`)
    }
    const together = (modules: readonly ModuleName[], path: string) => {
      const counts = modules.map((m) => h.modules![m]!)
      if (new Set(counts).size > 1)
        add(
          path,
          `the modules of one process run the same number of copies (a process serves one copy of each): ${modules.map((m, k) => `${m} ${counts[k]}`).join(', ')}`,
        )
    }
    if (h.process === 'single') {
      if (h.groups !== undefined) add(`${at}.groups`, 'cannot go with process "single", which already runs every module of the host in one process')
      if (modulesOf(h.modules).length === 0) add(`${at}.process`, '"single" needs modules to run')
      else together(modulesOf(h.modules), `${at}.process`)
    } else {
      const grouped = new Map<string, string>()
      h.groups?.forEach((group, j) => {
        const members: ModuleName[] = []
        group.forEach((name, k) => {
          const path = `${at}.groups[${j}][${k}]`
          const before = grouped.get(name)
          if (!isModuleName(name)) add(path, `unknown module '${name}' (${known})`)
          else if (h.modules?.[name] === undefined) add(path, `${name} is not in ${at}.modules`)
          else if (before !== undefined) add(path, `${name} is in ${before} already: a module runs in one kind of process`)
          else {
            grouped.set(name, `${at}.groups[${j}]`)
            members.push(name)
          }
        })
        if (members.length > 0) together(members, `${at}.groups[${j}]`)
      })
    }
  })
  for (const m of MODULE_NAMES) {
    if (!t.hosts.some((h) => h.modules?.[m] !== undefined)) add('hosts', `no host runs module ${m} (hosts[].modules): every module must run somewhere`)
  }
  if (!t.hosts.some((h) => (h.gateways?.length ?? 0) > 0)) add('hosts', 'no host runs a gateway (hosts[].gateways): clients would have nothing to connect to')
  const replicas = t.replicas ?? DEFAULT_REPLICAS
  if (replicas > t.hosts.length)
    add('replicas', `${replicas} needs at least ${replicas} hosts (JetStream keeps each replica on another server); the topology has ${t.hosts.length}`)
  return issues
}

/** Every problem of `value` as a topology: its shape first, then (when the shape is right) what it means. Pure. */
export function topologyIssues(value: unknown): TopologyIssue[] {
  const shape = shapeIssues(value)
  return shape.length > 0 ? shape : meaningIssues(value as Topology)
}

/** `value` as a topology; throws a {@link TopologyError} naming `source` and listing every problem. Pure. */
export function parseTopology(value: unknown, source = 'topology'): Topology {
  const issues = topologyIssues(value)
  if (issues.length > 0) throw new TopologyError(source, issues)
  return value as Topology
}

/** Reads and checks a topology file; throws a {@link TopologyError} (or one naming the file when it is no JSON). */
export function readTopology(file: string): Topology {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new TopologyError(file, [{ path: '', message: `cannot read it: ${(err as Error).message}` }])
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new TopologyError(file, [{ path: '', message: `not JSON: ${(err as Error).message}` }])
  }
  return parseTopology(value, file)
}
