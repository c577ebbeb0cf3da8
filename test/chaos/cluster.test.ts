import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import { Kvm, type KV } from '@nats-io/kv'
import t from 'tap'
import { client } from 'switchboard'
import { connectFor, eventually, startCluster } from '../harness/index.ts'
import { Echo } from '../fixtures/echo-contract.ts'
import { spawnEcho } from '../fixtures/spawn-process.ts'
import { formatFaultTable, runLoad, type FaultRow } from '../fixtures/fault-table.ts'

const rows: FaultRow[] = []
t.teardown(() => {
  if (rows.length > 0) console.log(`\nfault table (cluster)\n${formatFaultTable(rows)}\n`)
})

const enc = new TextEncoder()
const dec = new TextDecoder()

async function countLost(kv: KV, jsm: JetStreamManager, keys: readonly string[], seqs: ReadonlyMap<number, string>): Promise<number> {
  let lost = 0
  for (const key of keys) {
    const e = await eventually(() => kv.get(key))
    if (e === null || dec.decode(e.value) !== key) lost++
  }
  for (const [seq, body] of seqs) {
    const m = await eventually(() => jsm.streams.getMessage('CL', { seq }))
    if (m === null || dec.decode(m.data) !== body) lost++
  }
  return lost
}

// The echo service is no chat role, so this cluster runs without the chat users (test/security covers those).
t.test('cluster - losing one of three servers under load: calls keep being served, no OK write is lost', async (t) => {
  const cluster = await startCluster(3)
  t.teardown(() => cluster.stop())
  const [victim] = cluster.servers
  const workers = await Promise.all(['k1', 'k2'].map((tag) => spawnEcho(t, cluster.urls, tag)))
  // Client and writer start on the server that dies (noRandomize), so both must fail over.
  const opts = { noRandomize: true, maxReconnectAttempts: -1, reconnectTimeWait: 100 }
  const nc = await connectFor(t, cluster.urls, opts)
  const wc = await connectFor(t, cluster.urls, opts)
  t.equal(nc.info?.port, victim!.port, 'the client starts on the server that will die')
  const kv = await new Kvm(wc).create('cl', { replicas: 3, storage: 'file', history: 1 })
  const jsm = await jetstreamManager(wc)
  await jsm.streams.add({ name: 'CL', subjects: ['cl.>'], storage: 'file' as never, num_replicas: 3 })
  const js = jetstream(wc, { timeout: 3_000 })
  const echo = client(nc, Echo, { timeout: 5_000 })

  let killed = false
  const keys: string[] = []
  const seqs = new Map<number, string>()
  const writes = runLoad({
    total: 1_200,
    concurrency: 20,
    deadlineMs: 7_000,
    graceMs: 5_000,
    call: async (i) => {
      const key = `w${i}`
      await kv.put(key, enc.encode(key))
      keys.push(key)
      const a = await js.publish(`cl.${i}`, enc.encode(key), { msgID: key })
      seqs.set(a.seq, key)
      return true
    },
  })
  const calls = runLoad({
    total: 4_000,
    concurrency: 50,
    deadlineMs: 5_000,
    call: async (i) => (await echo.echo({ text: `c${i}` })).text === `c${i}`,
    onProgress: (done) => {
      if (done === 1_500) {
        killed = true
        void victim!.kill()
      }
    },
  })
  const [w, c] = await Promise.all([writes, calls])
  t.ok(killed, 'a server was killed during the load')
  t.not(nc.info?.port, victim!.port, 'the client moved to a surviving server')

  const lost = await countLost(kv, jsm, keys, seqs)
  rows.push({ scenario: 'cluster: kill 1 of 3 servers, RPC calls', calls: c.calls, failed: c.failed, lost: c.hung + c.wrong, codes: c.codes })
  rows.push({
    scenario: 'cluster: kill 1 of 3 servers, KV+stream writes (R3)',
    calls: w.calls,
    failed: w.failed,
    lost,
    codes: w.codes,
    note: `${keys.length} KV puts + ${seqs.size} stream publishes got OK, all checked afterwards`,
  })
  t.equal(c.hung + c.wrong, 0, 'no call hung or got a wrong reply')
  t.same(
    Object.keys(c.codes).filter((k) => k !== 'UNAVAILABLE' && k !== 'DEADLINE_EXCEEDED'),
    [],
    'calls fail only with UNAVAILABLE/DEADLINE_EXCEEDED',
  )
  t.ok(c.ok > c.calls * 0.9, `most calls succeed across the failover (${c.ok}/${c.calls})`)
  t.equal(w.hung, 0, 'no write hung')
  t.ok(keys.length > 0 && seqs.size > 0, `writes got OK (${keys.length} puts, ${seqs.size} publishes)`)
  t.equal(lost, 0, 'every write that got OK is still there')

  const after = await runLoad({ total: 300, concurrency: 20, deadlineMs: 3_000, call: async (i) => (await echo.echo({ text: `z${i}` })).text === `z${i}` })
  rows.push({ scenario: 'cluster: calls after failover', calls: after.calls, failed: after.failed, lost: after.hung + after.wrong, codes: after.codes })
  t.equal(after.failed + after.hung + after.wrong, 0, 'after reconnect every call succeeds')
  // JetStream may still be electing new leaders right after the loss: the write is retried until it is taken
  await eventually(() => kv.put('after', enc.encode('after')), 100, 100)
  t.equal(dec.decode((await eventually(() => kv.get('after')))!.value), 'after', 'the R3 bucket takes writes with two servers left')
  t.same(
    workers.map((p) => p.child.exitCode),
    [null, null],
    'the worker processes never restarted',
  )
})
