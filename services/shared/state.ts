import type { NatsConnection } from '@nats-io/nats-core'
import { jetstream, jetstreamManager, type JetStreamClient, type StreamConfig } from '@nats-io/jetstream'
import { Kvm, type KV, type KvOptions } from '@nats-io/kv'
import { decodeBody, encodeBody, systemError } from 'switchboard'
import { isTransientStoreError, untilStoreReady } from './store-errors.ts'

/** Opens a KV bucket, creating it (file storage, `replicas`) when missing; waits while JetStream is not ready. */
export async function openBucket(nc: NatsConnection, name: string, replicas: number, opts: Partial<KvOptions> = {}): Promise<KV> {
  return untilStoreReady(() => new Kvm(nc).create(name, { replicas, storage: 'file', history: 1, ...opts }))
}

/** Opens a stream, creating it (file storage, `replicas`) when missing; waits while JetStream is not ready. */
export async function openStream(nc: NatsConnection, config: Partial<StreamConfig> & { name: string }, replicas: number): Promise<JetStreamClient> {
  const jsm = await untilStoreReady(() => jetstreamManager(nc))
  await untilStoreReady(async () => {
    try {
      await jsm.streams.info(config.name)
    } catch (err) {
      if (isTransientStoreError(err)) throw err
      await jsm.streams.add({ storage: 'file' as StreamConfig['storage'], num_replicas: replicas, ...config })
    }
  })
  return jetstream(nc)
}

/** Reads a msgpack value, or undefined when the key is missing or deleted. */
export async function readValue<T>(kv: KV, key: string): Promise<{ value: T; revision: number } | undefined> {
  const e = await kv.get(key)
  if (e === null || e.operation !== 'PUT' || e.value.length === 0) return undefined
  return { value: decodeBody(e.value) as T, revision: e.revision }
}

/** Writes a msgpack value. */
export function writeValue(kv: KV, key: string, value: unknown): Promise<number> {
  return kv.put(key, encodeBody(value))
}

const CAS_ATTEMPTS = 50

/**
 * Read-modify-write of one key with compare-and-set, retried when another writer wins the race.
 * `change` gets the current value (undefined when missing) and returns the new one, or `undefined` to write nothing.
 */
export async function updateValue<T, R = void>(
  kv: KV,
  key: string,
  change: (current: T | undefined) => { value: T; result: R } | { value?: undefined; result: R },
): Promise<R> {
  for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
    const cur = await readValue<T>(kv, key)
    const next = change(cur?.value)
    if (next.value === undefined) return next.result
    try {
      if (cur === undefined) await kv.create(key, encodeBody(next.value))
      else await kv.update(key, encodeBody(next.value), cur.revision)
      return next.result
    } catch (err) {
      if (!isConflict(err)) throw err
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)))
    }
  }
  throw systemError('FAILED_PRECONDITION', `too many concurrent updates of ${key}; try again`)
}

/** Whether a KV write failed because the key's revision moved (compare-and-set lost). */
export function isConflict(err: unknown): boolean {
  const m = String((err as Error)?.message ?? err)
  return /wrong last sequence|key exists|10071/i.test(m) || (err as { code?: unknown })?.code === 10071
}

/** Lists the keys matching `filter`. */
export async function listKeys(kv: KV, filter: string): Promise<string[]> {
  const out: string[] = []
  for await (const k of await kv.keys(filter)) out.push(k)
  return out
}
