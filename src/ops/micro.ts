import type { NatsConnection, Subscription } from '@nats-io/nats-core'
import { isStreamMethod, type AnyContract, type MethodSpec } from '../contract.ts'
import { fingerprintOf } from '../evolution/fingerprint.ts'
import type { EndpointStats } from './call-stats.ts'

/** The NATS micro (ADR-32) verbs a worker answers on `$SRV.<verb>[.<service>[.<id>]]`. */
export const MicroVerb = { PING: 'PING', INFO: 'INFO', STATS: 'STATS' } as const
export type MicroVerb = (typeof MicroVerb)[keyof typeof MicroVerb]

/** The `type` strings of NATS micro v1 replies. */
export const MicroType = {
  PING: 'io.nats.micro.v1.ping_response',
  INFO: 'io.nats.micro.v1.info_response',
  STATS: 'io.nats.micro.v1.stats_response',
} as const

/** The subject prefix of NATS micro discovery. */
export const SRV_PREFIX = '$SRV'

/** Name, id, version and metadata of one service instance, as every micro reply starts. */
export interface MicroIdentity {
  readonly type: string
  readonly name: string
  readonly id: string
  readonly version: string
  readonly metadata: Record<string, string>
}

/** One endpoint of a `$SRV.INFO` reply. */
export interface MicroEndpointInfo {
  readonly name: string
  readonly subject: string
  readonly queue_group: string
  readonly metadata: Record<string, string>
}

export interface MicroInfo extends MicroIdentity {
  readonly description: string
  readonly endpoints: readonly MicroEndpointInfo[]
}

export interface MicroStats extends MicroIdentity {
  /** RFC3339 start time. */
  readonly started: string
  readonly endpoints: readonly EndpointStats[]
}

/** What discovery needs of a running worker. */
export interface MicroHost {
  readonly id: string
  readonly contract: AnyContract
  readonly started: Date
  readonly options: { readonly prefix: string; readonly queue: string | undefined }
  stats(): EndpointStats[]
}

/** Keys of the metadata switchboard puts in INFO. */
export const MicroMeta = {
  Protocol: 'switchboard.protocol',
  ContractVersion: 'switchboard.contract_version',
  /** A hash of the contract's methods (evolution/fingerprint.ts): instances with the same one answer alike. */
  ContractHash: 'switchboard.contract_hash',
  Prefix: 'switchboard.prefix',
  Input: 'switchboard.input_schema',
  Output: 'switchboard.output_schema',
  /** A stream method's item schema, in place of `Output` (protocol §10). */
  Stream: 'switchboard.stream_schema',
  Errors: 'switchboard.errors',
  Idempotent: 'switchboard.idempotent',
  Description: 'switchboard.description',
  /** A hash of the method's schemas, declared errors, idempotence and description. */
  SchemaHash: 'switchboard.schema_hash',
} as const

/** Service-level metadata: protocol, contract version and hash, subject prefix. */
export function serviceMetadata(host: MicroHost): Record<string, string> {
  return {
    [MicroMeta.Protocol]: '1',
    [MicroMeta.ContractVersion]: host.contract.version,
    [MicroMeta.ContractHash]: fingerprintOf(host.contract).contract,
    [MicroMeta.Prefix]: host.options.prefix,
  }
}

/**
 * Endpoint metadata: the method's JSON Schemas (input, and output or a stream's item schema) and declared errors,
 * each as a JSON string, and its hash.
 */
export function endpointMetadata(spec: MethodSpec, schemaHash?: string): Record<string, string> {
  const errors: Record<string, { status: number; data?: unknown; description?: string }> = {}
  for (const [code, e] of Object.entries(spec.errors ?? {})) errors[code] = { status: e.status, data: e.data, description: e.description }
  return {
    [MicroMeta.Input]: JSON.stringify(spec.input),
    ...(isStreamMethod(spec) ? { [MicroMeta.Stream]: JSON.stringify(spec.stream) } : { [MicroMeta.Output]: JSON.stringify(spec.output) }),
    [MicroMeta.Errors]: JSON.stringify(errors),
    [MicroMeta.Idempotent]: String(spec.idempotent === true),
    [MicroMeta.Description]: spec.description ?? '',
    ...(schemaHash !== undefined && { [MicroMeta.SchemaHash]: schemaHash }),
  }
}

function identity(host: MicroHost, type: string): MicroIdentity {
  const { name, version } = host.contract
  return { type, name, id: host.id, version, metadata: serviceMetadata(host) }
}

/** The `$SRV.PING` reply. */
export function pingOf(host: MicroHost): MicroIdentity {
  return identity(host, MicroType.PING)
}

/** The `$SRV.INFO` reply: every method as an endpoint. */
export function infoOf(host: MicroHost): MicroInfo {
  const { contract, options } = host
  const queue = options.queue ?? contract.name
  const hashes = fingerprintOf(contract).methods
  const endpoints = Object.entries(contract.methods).map(([name, spec]) => ({
    name,
    subject: `${options.prefix}.${contract.name}.${name}`,
    queue_group: queue,
    metadata: endpointMetadata(spec, hashes[name]),
  }))
  return { ...identity(host, MicroType.INFO), description: contract.description, endpoints }
}

/** The `$SRV.STATS` reply; `last_error` is present from the first reply on. */
export function statsOf(host: MicroHost): MicroStats {
  return { ...identity(host, MicroType.STATS), started: host.started.toISOString(), endpoints: host.stats() }
}

/** The subjects one instance answers for `verb`: all services, its name, its name and id. */
export function microSubjects(verb: MicroVerb, name: string, id: string): string[] {
  return [`${SRV_PREFIX}.${verb}`, `${SRV_PREFIX}.${verb}.${name}`, `${SRV_PREFIX}.${verb}.${name}.${id}`]
}

/** The subject to ask `verb` of every instance, one service, or one instance. */
export function microSubject(verb: MicroVerb, name?: string, id?: string): string {
  return name === undefined ? `${SRV_PREFIX}.${verb}` : id === undefined ? `${SRV_PREFIX}.${verb}.${name}` : `${SRV_PREFIX}.${verb}.${name}.${id}`
}

/**
 * Subscribes the nine `$SRV` subjects of one instance (no queue group: every instance answers).
 * PING and INFO are encoded once; STATS on every request.
 */
export function subscribeMicro(nc: NatsConnection, host: MicroHost): Subscription[] {
  const enc = new TextEncoder()
  const ping = enc.encode(JSON.stringify(pingOf(host)))
  const info = enc.encode(JSON.stringify(infoOf(host)))
  const replies: Record<MicroVerb, () => Uint8Array> = {
    PING: () => ping,
    INFO: () => info,
    STATS: () => enc.encode(JSON.stringify(statsOf(host))),
  }
  const subs: Subscription[] = []
  for (const verb of Object.values(MicroVerb)) {
    const reply = replies[verb]
    for (const subject of microSubjects(verb, host.contract.name, host.id)) {
      subs.push(
        nc.subscribe(subject, {
          callback: (err, msg) => {
            try {
              if (err === null && msg.reply) msg.respond(reply())
            } catch {
              // a discovery reply that cannot be sent (connection closing) is not worth a crash
            }
          },
        }),
      )
    }
  }
  return subs
}
