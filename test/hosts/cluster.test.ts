import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import t, { type Test } from 'tap'
import { formatFaultTable, type FaultRow } from '../fixtures/fault-table.ts'
import { confSecurity, connectAs } from '../fixtures/nats-conf.ts'
import { CLUSTER_PORT, type HostServer, startHostCluster } from '../harness/host-cluster.ts'
import { makeHosts, skipUnlessHosts } from '../harness/hosts.ts'
import { delay, eventually } from '../harness/index.ts'
import { replicaViews } from './replicas.ts'

const rows: FaultRow[] = []
t.teardown(() => {
  if (rows.length > 0) console.log(`\nfault table (simulated hosts)\n${formatFaultTable(rows)}\n`)
})

const STREAM = 'HOSTS'
const LANES = 4
const CUT_MS = 10_000
const DOWN_MS = 5_000

/** Whether the stream has a leader and every other server is a current replica. */
async function replicasCurrent(jsm: JetStreamManager, size: number): Promise<boolean> {
  const c = (await jsm.streams.info(STREAM)).cluster
  return Boolean(c?.leader) && c?.replicas?.length === size - 1 && c.replicas.every((r) => r.current && !r.offline)
}

/** Polls `check` every 100 ms until it holds; resolves with the ms it took, or rejects after `timeoutMs`. */
async function timeUntil(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<number> {
  const t0 = performance.now()
  let last: unknown
  for (;;) {
    try {
      if (await check()) return Math.round(performance.now() - t0)
      last = undefined
    } catch (err) {
      last = err
    }
    if (performance.now() - t0 > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : ` (last: ${last})`}`)
    await delay(100)
  }
}

const routesOf = async (s: HostServer) => ((await s.monitor('/routez')) as { num_routes?: number; routes?: { ip: string; remote_id: string }[] }) ?? {}

interface Publish {
  readonly id: string
  readonly phase: string
  readonly start: number
  end?: number
  seq?: number
  error?: string
}

/** Says, for some acknowledged messages not where their ack put them, what each replica holds there instead, and what the servers logged. */
function describeLost(
  t: Test,
  bad: readonly { p: Publish; i: number }[],
  views: ReadonlyMap<string, readonly (string | null)[]>,
  pubs: readonly Publish[],
  marks: Record<string, number>,
  servers: readonly HostServer[],
): void {
  const byId = new Map(pubs.map((p) => [p.id, p]))
  const when = (ms: number) =>
    Object.entries(marks)
      .map(([k, v]) => `${k}${ms - v >= 0 ? '+' : ''}${Math.round(ms - v)}`)
      .join(' ')
  const what = (body: string | null) => {
    const q = body === null ? undefined : byId.get(body)
    return q === undefined ? String(body) : `${q.id} (${q.phase}, ${q.error ?? `acked at seq ${q.seq}`})`
  }
  for (const { p, i } of bad.slice(0, 8)) {
    const there = [...views].map(([name, v]) => `${name}: ${what(v[i] ?? null)}`).join('; ')
    t.comment(`NOT AT ITS SEQ: ${p.id} (${p.phase}, started ${when(p.start)} ms, acked at seq ${p.seq}); there now: ${there}`)
  }
  for (const s of servers) {
    const lines = s
      .log()
      .split('\n')
      .filter((l) => /HOSTS|leader|WRN|ERR/.test(l) && !/Error trying to connect to route/.test(l))
    t.comment(`${s.name} said (host 1's log starts at its restart):\n${lines.slice(-30).join('\n')}`)
  }
}

function errorCode(err: unknown): string {
  const e = err as Error & { code?: unknown; cause?: { isNoResponders?: () => boolean } }
  // nats.js reports a publish that no stream leader took (503) as JetStreamNotEnabled
  if (e?.cause?.isNoResponders?.()) return 'no responders (503)'
  const name = e?.name && e.name !== 'Error' ? e.name : (e?.message ?? String(err)).slice(0, 40)
  return e?.code === undefined ? name : `${name}(${e.code})`
}

t.test(
  'hosts - three namespaces form one NATS cluster; a JetStream R3 stream keeps every acknowledged message through host 2 cut off for 10 s and back, and host 1 killed and restarted',
  { skip: skipUnlessHosts(), timeout: 90_000 },
  async (t) => {
    const net = await makeHosts(t, 3)
    const cluster = await startHostCluster(t, net, { extra: confSecurity() })
    const [s1, s2, s3] = cluster.servers as [HostServer, HostServer, HostServer]
    for (const s of cluster.servers) {
      const others = net.hosts.filter((h) => h !== s.host).map((h) => h.address)
      const r = await routesOf(s)
      t.same(r.routes?.map((x) => x.ip).sort(), others, `${s.name} routes to the other hosts over 198.18 (${others.join(', ')})`)
    }

    // the client starts on host 2 (cut off first), then moves on in list order; pings notice a dead path in ~2 s
    const nc = await connectAs([s2.url, s1.url, s3.url], 'message', {
      noRandomize: true,
      ignoreClusterUpdates: true,
      pingInterval: 1_000,
      maxPingOut: 2,
      timeout: 3_000,
    })
    t.teardown(() => (nc.isClosed() ? undefined : nc.close()))
    const jsm = await jetstreamManager(nc)
    await eventually(() => jsm.streams.add({ name: STREAM, subjects: ['msg.hosts.>'], storage: 'file' as never, num_replicas: 3 }), 50, 200)
    await timeUntil('the stream on three current replicas', () => replicasCurrent(jsm, 3))
    const js = jetstream(nc, { timeout: 2_000 })

    // publishers: LANES in a closed loop, each publish with its own msgID, none retried; every ack is recorded
    const pubs: Publish[] = []
    let phase = 'baseline'
    let running = true
    let n = 0
    const lane = async (l: number) => {
      while (running) {
        const p: Publish = { id: `p${++n}`, phase, start: performance.now() }
        pubs.push(p)
        try {
          p.seq = (await js.publish(`msg.hosts.${l}`, p.id, { msgID: p.id })).seq
        } catch (err) {
          p.error = errorCode(err)
        }
        p.end = performance.now()
        await delay(5)
      }
    }
    const lanes = Array.from({ length: LANES }, (_, l) => lane(l))
    t.teardown(() => {
      running = false
    })
    /** ms from `at` to the first ack of a publish started at or after `at` (undefined: none). */
    const firstAckAfter = (at: number) => {
      const acked = pubs.filter((p) => p.start >= at && p.seq !== undefined).map((p) => p.end! - at)
      return acked.length === 0 ? undefined : Math.round(Math.min(...acked))
    }
    /** When the publishes of phase `name` failed, counted from `at`. */
    const failWindow = (name: string, at: number) => {
      const failed = pubs.filter((p) => p.phase === name && p.error !== undefined)
      if (failed.length === 0) return 'no publish failed'
      const [from, to] = [Math.min(...failed.map((p) => p.start)) - at, Math.max(...failed.map((p) => p.end!)) - at]
      const rel = (ms: number) => `${ms < 0 ? '' : '+'}${Math.round(ms)}`
      return `publishes failed from ${rel(from)} to ${rel(to)} ms`
    }
    const notes: Array<() => [string, string]> = []

    await delay(3_000)

    // host 2 cut off: its port on the switch set down for 10 s
    phase = 'host 2 cut off 10 s'
    const cutPhase = phase
    const clientBeforeCut = nc.info?.server_name
    const leaderBeforeCut = (await jsm.streams.info(STREAM)).cluster?.leader
    await s2.host.linkDown()
    const cutAt = performance.now()
    const cutIsReal = s1.host.canConnect(s2.host.address, CLUSTER_PORT)
    // whether, and when, hosts 1 and 3 drop their routes to host 2
    let routesDropped: number | undefined
    while (performance.now() - cutAt < CUT_MS) {
      if (routesDropped === undefined) {
        const r = await Promise.all([routesOf(s1), routesOf(s3)]).catch(() => undefined)
        if (r?.every((x) => x.num_routes === 1)) routesDropped = Math.round(performance.now() - cutAt)
      }
      await delay(250)
    }
    t.notOk(await cutIsReal, 'host 1 cannot open a connection to host 2 while it is cut off')
    const clientAfterCut = nc.info?.server_name
    notes.push(() => [
      cutPhase,
      `first ack after the cut +${firstAckAfter(cutAt) ?? '-'} ms; ${failWindow(cutPhase, cutAt)}; stream leader ${leaderBeforeCut}; client ${clientBeforeCut} -> ${clientAfterCut}; ` +
        (routesDropped === undefined ? 'h1/h3 still list a route to h2 after 10 s' : `h1/h3 dropped their routes to h2 at +${routesDropped} ms`),
    ])

    phase = 'host 2 back'
    const backPhase = phase
    await s2.host.linkUp()
    const upAt = performance.now()
    const routesBack = await timeUntil('the routes to host 2 back', async () =>
      (await Promise.all(cluster.servers.map(routesOf))).every((r) => r.num_routes === 2),
    )
    const h2Current = (await timeUntil('host 2 a current replica again', () => replicasCurrent(jsm, 3))) + routesBack
    notes.push(() => [backPhase, `${failWindow(backPhase, upAt)}; routes back +${routesBack} ms; 3 replicas current +${h2Current} ms`])
    await delay(2_000)

    // host 1 crashes: everything in its namespace SIGKILLed, down 5 s, then its nats-server starts on the same store
    phase = 'host 1 killed, down 5 s'
    const killPhase = phase
    const clientBeforeKill = nc.info?.server_name
    const leaderBeforeKill = (await jsm.streams.info(STREAM)).cluster?.leader
    await s1.host.kill()
    const killAt = performance.now()
    t.notOk(s1.running, "host 1's nats-server is dead")
    t.same(await s1.host.pids(), [], 'nothing runs on host 1')
    await delay(DOWN_MS)
    const clientAfterKill = nc.info?.server_name
    notes.push(() => [
      killPhase,
      `first ack after the kill +${firstAckAfter(killAt) ?? '-'} ms; ${failWindow(killPhase, killAt)}; stream leader ${leaderBeforeKill}; client ${clientBeforeKill} -> ${clientAfterKill}`,
    ])

    phase = 'host 1 restarted'
    const restartPhase = phase
    const restartAt = performance.now()
    await s1.start()
    const h1Current = await timeUntil('host 1 a current replica again', () => replicasCurrent(jsm, 3))
    notes.push(() => [restartPhase, `${failWindow(restartPhase, restartAt)}; 3 replicas current +${h1Current} ms`])
    await delay(2_000)

    running = false
    await Promise.all(lanes)
    t.ok(firstAckAfter(cutAt) !== undefined, 'publishes were acknowledged again after host 2 was cut off')
    t.ok(firstAckAfter(killAt) !== undefined, 'publishes were acknowledged again after host 1 was killed')

    // once every replica is current, every publish is acknowledged
    phase = 'after recovery'
    for (let i = 0; i < 20; i++) {
      const p: Publish = { id: `p${++n}`, phase, start: performance.now() }
      pubs.push(p)
      try {
        p.seq = (await js.publish('msg.hosts.after', p.id, { msgID: p.id })).seq
      } catch (err) {
        p.error = errorCode(err)
      }
      p.end = performance.now()
    }
    t.same(
      pubs.filter((p) => p.phase === phase && p.error !== undefined).map((p) => p.error),
      [],
      'after recovery, 20 publishes in a row are acknowledged',
    )

    // every acknowledged message is in the stream, at the sequence its ack named
    const info = await jsm.streams.info(STREAM)
    const stored = new Map<number, string>()
    if (info.state.last_seq > 0) {
      // an ordered consumer (made through the JetStream meta leader, which may still be settling: retried)
      const messages = await eventually(async () => (await js.consumers.get(STREAM)).consume(), 20, 500)
      for await (const m of messages) {
        stored.set(m.seq, m.string())
        if (m.seq >= info.state.last_seq) break
      }
    }
    const acked = pubs.filter((p) => p.seq !== undefined)
    const lost = (p: Publish) => stored.get(p.seq!) !== p.id
    const storedIds = new Set(stored.values())
    // and on each replica: every server's own copy (read while it leads the stream), at every acknowledged sequence
    const names = cluster.servers.map((s) => s.name)
    const views = await replicaViews(
      nc,
      jsm,
      STREAM,
      names,
      acked.map((p) => p.seq!),
    )
    t.same([...views.keys()].sort(), [...names].sort(), 'every server led the stream once, so its own copy was read')
    const wrongOn = (i: number) => [...views].filter(([, v]) => v[i] !== acked[i]!.id).map(([name]) => name)
    const bad = acked.map((p, i) => ({ p, i, on: wrongOn(i) })).filter((x) => x.on.length > 0)
    const notOnQuorum = bad.filter((x) => views.size - x.on.length < 2)
    const perReplica = cluster.servers.map((s) => `${s.host.name} ${views.has(s.name) ? bad.filter((x) => x.on.includes(s.name)).length : '?'}`).join(', ')

    const noteOf = new Map(notes.map((f) => f()))
    for (const name of [...new Set(pubs.map((p) => p.phase))]) {
      const of = pubs.filter((p) => p.phase === name)
      const codes: Record<string, number> = {}
      for (const p of of) if (p.error !== undefined) codes[p.error] = (codes[p.error] ?? 0) + 1
      rows.push({
        scenario: name,
        calls: of.length,
        failed: of.filter((p) => p.error !== undefined).length,
        lost: of.filter((p) => p.seq !== undefined && lost(p)).length,
        codes,
        note: noteOf.get(name),
      })
    }
    const failedButStored = pubs.filter((p) => p.error !== undefined && storedIds.has(p.id)).length
    rows.push({
      scenario: 'total',
      calls: pubs.length,
      failed: pubs.filter((p) => p.error !== undefined).length,
      lost: acked.filter(lost).length,
      codes: {},
      note:
        `${acked.length} acked, ${stored.size} read back (${failedButStored} unacknowledged ones among them); ` +
        `acked but not at their seq, per replica: ${perReplica}; on fewer than 2 replicas: ${notOnQuorum.length}`,
    })
    if (bad.length > 0) describeLost(t, bad, views, pubs, { cutAt, upAt, killAt, restartAt }, cluster.servers)

    t.ok(acked.length > 0, `${acked.length} publishes acknowledged`)
    t.equal(notOnQuorum.length, 0, 'every acknowledged message is at its sequence on at least 2 of the 3 replicas')
    // One replica's copy drifting from the others while the majority holds every acknowledged message is a defect
    // this test found in nats-server v2.9.10 (docs/reliability.md, "Simulated hosts"): reported as a TODO, with what
    // each replica holds, rather than failing CI on a server bug; loss on a majority always fails.
    const drift =
      bad.length > 0 && notOnQuorum.length === 0 && views.size === names.length
        ? `KNOWN nats-server DEFECT: a replica's copy drifted from the committed stream (${perReplica}; see the comments above)`
        : false
    t.equal(bad.length, 0, 'every replica holds every acknowledged message at its sequence', { todo: drift })
    t.equal(acked.filter(lost).length, 0, 'read back through a consumer, every acknowledged message is at its sequence', { todo: drift })
    t.equal(storedIds.size, stored.size, 'no message is stored twice')
    t.equal(info.state.messages, stored.size, 'the stream holds what was read back')
    const c = info.cluster
    t.same([c?.leader, ...(c?.replicas ?? []).map((r) => r.name)].sort(), cluster.servers.map((s) => s.name).sort(), 'the stream is on all three hosts')
  },
)
