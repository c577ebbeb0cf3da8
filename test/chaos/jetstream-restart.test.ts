import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream'
import { Kvm, type KV } from '@nats-io/kv'
import t from 'tap'
import { eventually, serverFor } from '../harness/index.ts'
import { confSecurity, connectAs } from '../fixtures/nats-conf.ts'
import { formatFaultTable, type FaultRow } from '../fixtures/fault-table.ts'

const rows: FaultRow[] = []
t.teardown(() => {
  if (rows.length > 0) console.log(`\nfault table (jetstream restart)\n${formatFaultTable(rows)}\n`)
})

const enc = new TextEncoder()
const dec = new TextDecoder()

/** Writes `n` KV keys and `n` stream messages tagged `tag`; returns what got OK. */
async function write(kv: KV, js: JetStreamClient, tag: string, n: number) {
  const keys: string[] = []
  const seqs = new Map<number, string>()
  let failed = 0
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const key = `${tag}.k${i}`
      const body = `${tag}/${i}`
      await kv.put(key, enc.encode(body)).then(
        () => keys.push(key),
        () => failed++,
      )
      await js.publish(`chat.msg.${tag}.${i}`, enc.encode(body), { msgID: body }).then(
        (a) => seqs.set(a.seq, body),
        () => failed++,
      )
    }),
  )
  return { keys, seqs, failed }
}

/** Counts the OK writes that are gone or changed. Retries reads while JetStream comes back. */
async function missing(kv: KV, jsm: JetStreamManager, keys: readonly string[], seqs: ReadonlyMap<number, string>): Promise<number> {
  let lost = 0
  for (const key of keys) {
    const e = await eventually(() => kv.get(key))
    if (e === null || dec.decode(e.value) !== key.replace('.k', '/')) lost++
  }
  for (const [seq, body] of seqs) {
    const m = await eventually(() => jsm.streams.getMessage('CHATMSG', { seq }))
    if (m === null || dec.decode(m.data) !== body) lost++
  }
  return lost
}

t.test('jetstream - a nats-server restart (SIGTERM, then SIGKILL) loses no acknowledged KV or stream write', async (t) => {
  const server = await serverFor(t, { extra: confSecurity() })
  // The message module's real credentials: also proves nats.conf lets a module use KV and streams.
  const nc = await connectAs(server.url, 'message')
  t.teardown(() => nc.close())
  const kv = await new Kvm(nc).create('persist', { replicas: 1, storage: 'file', history: 1 })
  const jsm = await jetstreamManager(nc)
  await jsm.streams.add({ name: 'CHATMSG', subjects: ['chat.msg.>'], storage: 'file' as never, num_replicas: 1 })
  const js = jetstream(nc)

  const keys: string[] = []
  const seqs = new Map<number, string>()
  for (const [round, how] of [
    ['r1', 'SIGTERM'],
    ['r2', 'SIGKILL'],
  ] as const) {
    const w = await write(kv, js, round, 400)
    keys.push(...w.keys)
    for (const [s, b] of w.seqs) seqs.set(s, b)
    t.equal(w.failed, 0, `${round}: every write got OK before the restart`)
    if (how === 'SIGTERM') await server.restart()
    else {
      await server.kill()
      await server.restart()
    }
    const lost = await missing(kv, jsm, keys, seqs)
    rows.push({
      scenario: `jetstream: nats-server ${how} + restart`,
      calls: keys.length + seqs.size,
      failed: w.failed,
      lost,
      codes: {},
      note: 'KV keys + stream messages acknowledged so far',
    })
    t.equal(lost, 0, `after ${how}: all ${keys.length} keys and ${seqs.size} messages are still there`)
  }
  const info = await jsm.streams.info('CHATMSG')
  t.equal(info.state.messages, seqs.size, 'the stream holds exactly the acknowledged messages')
  t.equal(info.state.last_seq, 800)
})
