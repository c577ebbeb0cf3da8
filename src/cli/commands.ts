import { nuid, type NatsConnection } from '@nats-io/nats-core'
import { decodeEnvelope, encodeBody } from '../wire/codec.ts'
import { OK } from '../codes.ts'
import { Header, wireHeaders } from '../wire/headers.ts'
import { MicroMeta, type MicroInfo, type MicroStats } from '../ops/micro.ts'
import type { CliArgs } from './args.ts'
import { UsageError } from './args.ts'
import { byService, discover, info, ping, stats } from '../ops/discover.ts'
import { mixOf, type ServiceMix } from '../ops/skew.ts'
import { Verdict } from '../evolution/contract-diff.ts'
import { isNoResponders, isTimeout } from '../wire/nats-errors.ts'
import { nanos, parseMeta, table, uptime } from './format.ts'

/** Where a command writes; returns the exit code. */
export interface Io {
  out(text: string): void
}

const json = (v: unknown) => JSON.stringify(v, null, 2)

/** How `ls` shows a service's mix of contracts in its MIX column. */
function mixCell(mix: ServiceMix): string {
  if (mix.verdict === 'single') return '-'
  const label = mix.verdict === 'breaking' ? 'BREAKING' : mix.verdict
  return `${label} (${mix.variants.length} contracts)`
}

/**
 * `ls`: services, instance counts, versions, uptime of the longest-running instance, and whether the contracts its
 * instances run may serve side by side (MIX, from one `$SRV.INFO` round asked in parallel with `$SRV.STATS`).
 * `--long` adds one row per instance with its version and contract hash. Exits 1 when some service runs a breaking
 * mix of contracts (the changes are printed after the table), 0 otherwise, an `unknown` mix included.
 */
export async function ls(nc: NatsConnection, args: CliArgs, io: Io): Promise<number> {
  const now = Date.now()
  const [statsFound, infoFound] = await Promise.all([stats(nc, undefined, args.wait), discover<MicroInfo>(nc, 'INFO', { wait: args.wait })])
  const groups = byService(statsFound)
  const infos = byService(infoFound)
  const hashOf = (s: MicroStats): string | null =>
    s.metadata?.[MicroMeta.ContractHash] ?? infos.get(s.name)?.find((i) => i.id === s.id)?.metadata?.[MicroMeta.ContractHash] ?? null
  const services = [...groups].map(([name, list]) => ({
    name,
    instances: list.length,
    versions: [...new Set(list.map((s) => s.version))].sort(),
    uptime_ms: Math.max(...list.map((s) => now - Date.parse(s.started))),
    mix: mixOf(name, infos.get(name) ?? []),
    ids: list.map((s) => ({ id: s.id, version: s.version, contract_hash: hashOf(s), started: s.started, uptime_ms: now - Date.parse(s.started) })),
  }))
  const code = services.some((s) => s.mix.verdict === Verdict.breaking) ? 1 : 0
  if (args.json) {
    io.out(json(services))
    return code
  }
  if (services.length === 0) {
    io.out('no services answered')
    return 0
  }
  const rows = [['SERVICE', 'INSTANCES', 'VERSIONS', 'UPTIME', 'MIX']]
  for (const s of services) {
    rows.push([s.name, String(s.instances), s.versions.join(','), uptime(s.uptime_ms), mixCell(s.mix)])
    if (args.long) for (const i of s.ids) rows.push([`  ${i.id}`, '', `${i.version} ${i.contract_hash?.slice(0, 8) ?? '-'}`, uptime(i.uptime_ms), ''])
  }
  const notes: string[] = []
  for (const s of services) {
    if (s.mix.verdict !== Verdict.breaking && s.mix.verdict !== Verdict.unknown) continue
    const what = s.mix.verdict === Verdict.breaking ? 'incompatible mix' : 'mix of unknown compatibility'
    for (const c of s.mix.changes) notes.push(`${s.name}: ${what}: ${c.where}: ${c.detail}`)
  }
  io.out(table(rows).replace(/ +$/gm, '') + (notes.length > 0 ? `\n\n${notes.join('\n')}` : ''))
  return code
}

/** `info <service>`: each method with subject, queue group, schemas and declared errors. */
export async function infoCmd(nc: NatsConnection, args: CliArgs, io: Io): Promise<number> {
  const name = requireService(args)
  const found = (await info(nc, name, args.wait)).map((f) => f.reply)
  if (found.length === 0) return notFound(name, io)
  const newest = [...found].sort((a, b) => b.version.localeCompare(a.version, undefined, { numeric: true }))[0] as MicroInfo
  const methods = newest.endpoints.map((e) => ({
    name: e.name,
    subject: e.subject,
    queue_group: e.queue_group,
    idempotent: e.metadata?.[MicroMeta.Idempotent] === 'true',
    description: e.metadata?.[MicroMeta.Description] ?? '',
    input: parseMeta(e.metadata?.[MicroMeta.Input]),
    output: parseMeta(e.metadata?.[MicroMeta.Output]),
    errors: parseMeta(e.metadata?.[MicroMeta.Errors]) ?? {},
  }))
  const summary = { name, description: newest.description, versions: [...new Set(found.map((i) => i.version))], instances: found.map((i) => i.id), methods }
  if (args.json) {
    io.out(json(summary))
    return 0
  }
  const lines = [
    `${name} ${summary.versions.join(', ')}${newest.description ? ` - ${newest.description}` : ''}`,
    `instances: ${found.length} (${summary.instances.join(', ')})`,
  ]
  for (const m of methods) {
    lines.push('', `${m.name}  ${m.subject}  queue ${m.queue_group}${m.idempotent ? '  idempotent' : ''}${m.description ? `  - ${m.description}` : ''}`)
    lines.push(`  input:  ${JSON.stringify(m.input)}`, `  output: ${JSON.stringify(m.output)}`)
    const errors = Object.entries(m.errors as Record<string, { status: number; data?: unknown }>)
    if (errors.length === 0) lines.push('  errors: (system codes only)')
    for (const [code, e] of errors) lines.push(`  error ${code} ${e.status}${e.data === undefined ? '' : ` data ${JSON.stringify(e.data)}`}`)
  }
  io.out(lines.join('\n'))
  return 0
}

/** `stats <service>`: per method, per instance and in total. */
export async function statsCmd(nc: NatsConnection, args: CliArgs, io: Io): Promise<number> {
  const name = requireService(args)
  const found = (await stats(nc, name, args.wait)).map((f) => f.reply as MicroStats)
  if (found.length === 0) return notFound(name, io)
  const methods = new Map<
    string,
    { method: string; instances: object[]; total: { num_requests: number; num_errors: number; processing_time: number; average_processing_time: number } }
  >()
  for (const s of found) {
    for (const e of s.endpoints) {
      let m = methods.get(e.name)
      if (m === undefined)
        methods.set(e.name, (m = { method: e.name, instances: [], total: { num_requests: 0, num_errors: 0, processing_time: 0, average_processing_time: 0 } }))
      m.instances.push({ id: s.id, ...e })
      m.total.num_requests += e.num_requests
      m.total.num_errors += e.num_errors
      m.total.processing_time += e.processing_time
      m.total.average_processing_time = m.total.num_requests === 0 ? 0 : Math.round(m.total.processing_time / m.total.num_requests)
    }
  }
  if (args.json) {
    io.out(json({ name, instances: found.length, methods: [...methods.values()] }))
    return 0
  }
  const rows = [['METHOD', 'INSTANCE', 'REQUESTS', 'ERRORS', 'AVERAGE', 'LAST', 'LAST ERROR']]
  for (const m of methods.values()) {
    for (const i of m.instances as (MicroStats['endpoints'][number] & { id: string })[]) {
      rows.push([
        m.method,
        i.id,
        String(i.num_requests),
        String(i.num_errors),
        nanos(i.average_processing_time),
        nanos(i.data?.last_processing_time ?? 0),
        i.last_error,
      ])
    }
    rows.push([m.method, '(total)', String(m.total.num_requests), String(m.total.num_errors), nanos(m.total.average_processing_time), '-', ''])
  }
  io.out(table(rows))
  return 0
}

/** `ping [service]`: every instance that answers, with its round trip. */
export async function pingCmd(nc: NatsConnection, args: CliArgs, io: Io): Promise<number> {
  const found = await ping(nc, args.positionals[0], args.wait)
  if (args.json) {
    io.out(json(found.map((f) => ({ ...f.reply, rtt_ms: Math.round(f.rtt * 1000) / 1000 }))))
    return 0
  }
  if (found.length === 0) {
    io.out('no instance answered')
    return 0
  }
  io.out(table([['SERVICE', 'INSTANCE', 'VERSION', 'RTT'], ...found.map((f) => [f.reply.name, f.reply.id, f.reply.version, `${f.rtt.toFixed(2)}ms`])]))
  return 0
}

/** `call <service>.<method> [json]`: one msgpack request, prints the envelope; 1 when its status is not OK. */
export async function call(nc: NatsConnection, args: CliArgs, io: Io): Promise<number> {
  const [target, raw] = args.positionals
  const m = /^([a-zA-Z][a-zA-Z0-9_-]*)\.([a-zA-Z][a-zA-Z0-9_-]*)$/.exec(target ?? '')
  if (m === null) throw new UsageError(`call needs <service>.<method>, got '${target ?? ''}'`)
  let input: unknown
  if (raw !== undefined) {
    try {
      input = JSON.parse(raw)
    } catch (err) {
      throw new UsageError(`input is not JSON: ${(err as Error).message}`)
    }
  }
  const subject = `${args.prefix}.${m[1]}.${m[2]}`
  const headers: Record<string, string> = { [Header.Id]: nuid.next(), [Header.Deadline]: String(Date.now() + args.timeout) }
  if (args.auth !== undefined) headers[Header.Authorization] = `Bearer ${args.auth}`
  let envelope: unknown
  try {
    const reply = await nc.request(subject, encodeBody(input), { timeout: args.timeout, headers: wireHeaders(headers) })
    envelope = decodeEnvelope(reply.data) ?? { status: 'INTERNAL', message: `malformed reply from ${subject}` }
  } catch (err) {
    envelope = isNoResponders(err)
      ? { status: 'UNAVAILABLE', message: `no worker serves ${subject}` }
      : isTimeout(err)
        ? { status: 'DEADLINE_EXCEEDED', message: `no reply from ${subject} within ${args.timeout} ms` }
        : { status: 'UNAVAILABLE', message: String((err as Error)?.message) }
  }
  io.out(args.json ? JSON.stringify(envelope) : json(envelope))
  return (envelope as { status: string }).status === OK ? 0 : 1
}

function requireService(args: CliArgs): string {
  const name = args.positionals[0]
  if (name === undefined) throw new UsageError(`${args.command} needs a service name`)
  return name
}

function notFound(name: string, io: Io): number {
  io.out(`no instance of '${name}' answered`)
  return 1
}
