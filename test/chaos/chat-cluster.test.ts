import t from 'tap'
import { RpcError } from 'switchboard'
import { connectFor, delay, eventually, startCluster } from '../harness/index.ts'
import { signUp, startSystem } from '../harness/system.ts'
import { formatFaultTable, type FaultRow } from '../fixtures/fault-table.ts'

const rows: FaultRow[] = []
t.teardown(() => {
  if (rows.length > 0) console.log(`\nfault table (chat on a cluster)\n${formatFaultTable(rows)}\n`)
})

// The chat modules on three clustered nats-servers, state replicated 3 times; one server dies during a chat load.
t.test('cluster - the chat system loses no acknowledged message when one of three servers dies', async (t) => {
  const cluster = await startCluster(3)
  t.teardown(() => cluster.stop())
  const natsUrl = cluster.urls.join(',')
  await startSystem(t, { natsUrl, copies: 2, modules: ['user', 'group', 'message'], env: { SWITCHBOARD_REPLICAS: '3' } })
  const opts = { noRandomize: true, maxReconnectAttempts: -1, reconnectTimeWait: 100 }
  const nc = await connectFor(t, cluster.urls, opts)
  const suffix = Date.now().toString(36)
  const alice = await signUp(nc, `alice_${suffix}`)
  const bob = await signUp(nc, `bob_${suffix}`)

  const acked = new Set<string>()
  const codes: Record<string, number> = {}
  let sent = 0
  let stop = false
  const sender = async (lane: number) => {
    for (let i = 0; !stop; i++) {
      sent++
      try {
        const { messageId } = await alice.message.send({ to: bob.username, text: `m-${lane}-${i}` }, { timeout: 8_000 })
        acked.add(messageId)
      } catch (err) {
        const code = err instanceof RpcError ? err.code : String(err)
        codes[code] = (codes[code] ?? 0) + 1
        await delay(50)
      }
    }
  }
  const load = Promise.all([0, 1, 2, 3].map(sender))
  await delay(1_500)
  const before = acked.size
  await cluster.servers[0]!.kill()
  // JetStream re-elects stream and KV leaders on the two servers left; give the system up to 20 s to serve again
  for (let waited = 0; acked.size <= before + 50 && waited < 20_000; waited += 250) await delay(250)
  await delay(1_000)
  const afterKill = acked.size
  stop = true
  await load
  t.ok(before > 0, `messages were acknowledged before the kill (${before})`)
  t.ok(afterKill > before, `and after it: the system kept serving (${afterKill - before} more)`)

  const stored = await eventually(
    async () => {
      const ids = new Set<string>()
      let before: number | undefined
      for (;;) {
        const page = await alice.message.history({ with: bob.username, limit: 200, ...(before === undefined ? {} : { before }) })
        let added = 0
        for (const m of page) if (!ids.has(m.messageId) && ids.add(m.messageId)) added++
        if (page.length < 200 || added === 0) return ids
        before = page[page.length - 1]!.sentAt + 1 // messages of the same millisecond come again; the set drops them
      }
    },
    20,
    250,
  )
  const lost = [...acked].filter((id) => !stored.has(id))
  rows.push({ scenario: 'chat: kill 1 of 3 servers during message.send load', calls: sent, failed: sent - acked.size, lost: lost.length, codes })
  t.equal(lost.length, 0, `every acknowledged message is still stored (${acked.size} acknowledged, ${stored.size} stored)`)
})
