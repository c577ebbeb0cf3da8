import type { JetStreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import { delay, eventually } from '../harness/index.ts'

async function leaderOf(jsm: JetStreamManager, stream: string): Promise<string> {
  return eventually(async () => {
    const leader = (await jsm.streams.info(stream)).cluster?.leader
    if (leader === undefined) throw new Error(`stream ${stream} has no leader`)
    return leader
  })
}

/** The bodies at `seqs` as the stream leader has them (null: no message there), `concurrency` gets at a time. */
async function readThroughLeader(jsm: JetStreamManager, stream: string, seqs: readonly number[], concurrency: number): Promise<(string | null)[]> {
  const out: (string | null)[] = new Array(seqs.length).fill(null)
  let next = 0
  const lane = async () => {
    while (next < seqs.length) {
      const i = next++
      const m = await eventually(() => jsm.streams.getMessage(stream, { seq: seqs[i]! }), 20, 200)
      out[i] = m === null ? null : m.string()
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane))
  return out
}

/**
 * What each server's own copy of `stream` holds at each of `seqs`, keyed by server name. Reads by sequence are
 * answered by the stream leader from its own copy (direct gets, by contrast, go to any replica), so the leader is
 * stepped down until every one of `servers` has led during a complete read. A server missing from the result never
 * led within `attempts` step-downs.
 */
export async function replicaViews(
  nc: NatsConnection,
  jsm: JetStreamManager,
  stream: string,
  servers: readonly string[],
  seqs: readonly number[],
  { attempts = 12, concurrency = 64 } = {},
): Promise<Map<string, (string | null)[]>> {
  const views = new Map<string, (string | null)[]>()
  for (let k = 0; k < attempts && views.size < servers.length; k++) {
    const leader = await leaderOf(jsm, stream)
    if (!views.has(leader)) {
      const bodies = await readThroughLeader(jsm, stream, seqs, concurrency)
      // a leader change during the read would mix two copies: such a read is not kept
      if ((await leaderOf(jsm, stream)) === leader) views.set(leader, bodies)
    }
    if (views.size < servers.length) {
      await nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, '', { timeout: 2_000 }).catch(() => undefined)
      await delay(500)
    }
  }
  return views
}
