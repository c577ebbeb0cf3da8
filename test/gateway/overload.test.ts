import t from 'tap'
import { silentLogger } from 'switchboard'
import { type CallError, GatewayConnection, type PushEvent } from '../../services/chat-client/connection.ts'
import { startGateway } from '../../services/gateway/gateway.ts'
import { startMessageWorker } from '../../services/message/worker.ts'
import { connectFor, serverFor } from '../harness/index.ts'
import { startSystem } from '../harness/system.ts'

const PASSWORD = 'overload-password-1'
const suffix = () => Math.random().toString(36).slice(2, 8)

/** Settles every call; the refusals with their code and how long each took to come back, in ms. */
async function settle(calls: (() => Promise<unknown>)[]) {
  return Promise.all(
    calls.map(async (c) => {
      const t0 = performance.now()
      try {
        return { ok: true as const, value: await c(), ms: performance.now() - t0 }
      } catch (err) {
        return { ok: false as const, err: err as CallError, ms: performance.now() - t0 }
      }
    }),
  )
}

t.test('overload - against real module workers', async (t) => {
  const server = await serverFor(t)
  await startSystem(t, { natsUrl: server.url, modules: ['user', 'group'] })
  // the message module in this process: roomy first, then with room for 2 calls (and 1 waiting)
  const msgNc = await connectFor(t, server.url)
  let worker = await startMessageWorker(msgNc, { logger: silentLogger })
  t.teardown(() => worker.stop())
  const gwNc = await connectFor(t, server.url)
  const gw = await startGateway(gwNc, gwNc, { port: 0, sendRate: { rate: 20, burst: 20 } })
  t.teardown(() => gw.close())

  const user = async (name: string, url = gw.url) => {
    const conn = await GatewayConnection.open(url, { timeout: 8_000 })
    t.teardown(() => conn.close())
    const username = `${name}_${suffix()}`
    await conn.call('user.register', { username, password: PASSWORD })
    await conn.call('user.login', { username, password: PASSWORD })
    return { conn, username }
  }
  const [flooder, other, bob] = await Promise.all([user('flooder'), user('other'), user('bob')])
  const texts = new Set<string>()
  bob.conn.onEvent((e: PushEvent) => {
    const m = e.message as { text?: string } | undefined
    if (e.event === 'message' && m?.text !== undefined) texts.add(m.text)
  })

  t.test('overload - a flood from one user is refused with 429s while another user keeps sending', async (t) => {
    // 120 sends in waves of 30 (under the socket's 32 in flight): far past 20/s with bursts of 20
    const flood: Awaited<ReturnType<typeof settle>> = []
    const others = settle(
      Array.from({ length: 8 }, (_, k) => async () => {
        await new Promise((r) => setTimeout(r, k * 100))
        return other.conn.call('message.send', { to: bob.username, text: `other ${k}` })
      }),
    )
    for (let wave = 0; wave < 4; wave++) {
      flood.push(
        ...(await settle(Array.from({ length: 30 }, (_, k) => () => flooder.conn.call('message.send', { to: bob.username, text: `flood ${wave}.${k}` })))),
      )
    }
    const refused = flood.filter((r) => !r.ok)
    const accepted = flood.filter((r) => r.ok)
    t.ok(refused.length >= 60, `most of the flood is refused (${refused.length} of ${flood.length})`)
    t.ok(
      refused.every((r) => !r.ok && r.err.code === 'RESOURCE_EXHAUSTED' && r.err.status === 429),
      'every refusal is RESOURCE_EXHAUSTED (429)',
    )
    const hinted = refused.find((r) => !r.ok && /messages\/s/.test(r.err.message))
    t.ok(hinted, 'the refusal names the rate')
    t.ok(typeof (hinted && !hinted.ok && (hinted.err.data as { retryAfterMs?: number })?.retryAfterMs) === 'number', 'and says when to retry')
    t.ok(accepted.length >= 20, `the burst is accepted (${accepted.length})`)
    const mine = await others
    t.equal(mine.filter((r) => r.ok).length, 8, "the other user's messages are all accepted during the flood")
    // nothing accepted is lost; nothing refused is delivered
    const want = accepted.length + 8
    for (let i = 0; i < 100 && texts.size < want; i++) await new Promise((r) => setTimeout(r, 50))
    t.equal(texts.size, want, 'bob got every accepted message and nothing else')
    const acceptedTexts = flood.flatMap((r, i) => (r.ok ? [`flood ${Math.floor(i / 30)}.${i % 30}`] : []))
    t.ok(
      acceptedTexts.every((x) => texts.has(x)),
      'each accepted flood message reached bob',
    )
    t.ok(
      [...Array(8).keys()].every((k) => texts.has(`other ${k}`)),
      "each of the other user's messages reached bob",
    )
  })

  t.test('overload - past its limit on sends in flight the gateway refuses at once, before asking the module', async (t) => {
    // a gateway whose adaptive limit is pinned at 4 (min = max): what it does once the latency has cut the limit
    const small = await startGateway(gwNc, gwNc, { port: 0, sendLimit: { initial: 4, min: 4, max: 4 } })
    t.teardown(() => small.close())
    const x = await user('pinned', small.url)
    texts.clear()
    const results = await settle(Array.from({ length: 15 }, (_, k) => () => x.conn.call('message.send', { to: bob.username, text: `pinned ${k}` })))
    const refused = results.filter((r) => !r.ok)
    const accepted = results.filter((r) => r.ok)
    t.ok(accepted.length >= 4, `the first 4 are let through (${accepted.length} accepted)`)
    t.ok(refused.length > 0, `the rest, sent while 4 are in flight, are refused (${refused.length})`)
    t.ok(
      refused.every(
        (r) => !r.ok && r.err.code === 'RESOURCE_EXHAUSTED' && r.err.status === 429 && /the gateway has 4 such calls in flight/.test(r.err.message),
      ),
      'each refusal is a 429 from the gateway itself, naming its limit',
    )
    t.ok(
      refused.every((r) => !r.ok && typeof (r.err.data as { retryAfterMs?: unknown })?.retryAfterMs === 'number'),
      'with a time to retry after',
    )
    const want = results.flatMap((r, k) => (r.ok ? [`pinned ${k}`] : []))
    for (let i = 0; i < 100 && !want.every((w) => texts.has(w)); i++) await new Promise((r) => setTimeout(r, 50))
    t.ok(
      want.every((w) => texts.has(w)),
      'every accepted send is delivered',
    )
    t.equal(results.filter((r, k) => !r.ok && texts.has(`pinned ${k}`)).length, 0, 'and no refused one')
  })

  t.test('overload - a saturated message worker answers RESOURCE_EXHAUSTED at once, and what it accepts is stored', async (t) => {
    await worker.stop()
    worker = await startMessageWorker(msgNc, { maxInFlight: 2, logger: silentLogger })
    const u = await Promise.all(Array.from({ length: 4 }, (_, i) => user(`s${i}`)))
    texts.clear()
    // 4 users x 15 concurrent sends (each under its own 20-message burst) at a worker with 2 slots and 1 waiting
    const results = await settle(
      u.flatMap((x, i) => Array.from({ length: 15 }, (_, k) => () => x.conn.call('message.send', { to: bob.username, text: `sat ${i}.${k}` }))),
    )
    const refused = results.filter((r) => !r.ok)
    const accepted = results.filter((r) => r.ok)
    t.ok(refused.length > 0, `some sends are refused (${refused.length} of ${results.length})`)
    t.ok(accepted.length > 0, `some are accepted (${accepted.length})`)
    t.ok(
      refused.every((r) => !r.ok && r.err.code === 'RESOURCE_EXHAUSTED'),
      `every refusal is RESOURCE_EXHAUSTED, none a timeout (${[...new Set(refused.map((r) => !r.ok && r.err.code))].join(', ')})`,
    )
    // answered, not timed out: far inside the gateway's 5 s call timeout
    t.ok(Math.max(...refused.map((r) => r.ms)) < 2_000, `refusals come back at once (slowest ${Math.round(Math.max(...refused.map((r) => r.ms)))} ms)`)
    const want = results.flatMap((r, j) => (r.ok ? [`sat ${Math.floor(j / 15)}.${j % 15}`] : []))
    for (let i = 0; i < 100 && !want.every((x) => texts.has(x)); i++) await new Promise((r) => setTimeout(r, 50))
    t.ok(
      want.every((x) => texts.has(x)),
      'every accepted message is delivered',
    )
    t.equal(results.filter((r, j) => !r.ok && texts.has(`sat ${Math.floor(j / 15)}.${j % 15}`)).length, 0, 'no refused one is')
  })
})
