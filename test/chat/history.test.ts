import t from 'tap'
import type { StoredEntry } from '../../services/message/entry.ts'
import { Conversation, MessageStore, NewestWindow } from '../../services/message/store.ts'
import { connectFor, serverFor } from '../harness/index.ts'

const message = (n: number, sentAt: number): StoredEntry => ({
  messageId: `m${String(n).padStart(4, '0')}`,
  kind: 'direct',
  fromId: 'a',
  from: 'alice',
  to: 'bob',
  toId: 'b',
  text: `text ${n}`,
  sentAt,
})

t.test('message history - the window keeps the newest by sentAt, then by stream order', async (t) => {
  const w = new NewestWindow(3)
  const offered = [
    [1, 100],
    [2, 300],
    [3, 200],
    [4, 300],
    [5, 50],
    [6, 250],
  ] as const
  for (const [n, sentAt] of offered) w.offer({ entry: message(n, sentAt), seq: n })
  t.same(
    w.newestFirst().map((m) => m.entry.messageId),
    ['m0004', 'm0002', 'm0006'],
    'sentAt 300 (seq 4 after seq 2), then 250; 200, 100 and 50 fall out',
  )
  const one = new NewestWindow(1)
  one.offer({ entry: message(1, 10), seq: 1 })
  one.offer({ entry: message(2, 10), seq: 2 })
  one.offer({ entry: message(3, 5), seq: 3 })
  t.same(
    one.newestFirst().map((m) => m.entry.messageId),
    ['m0002', 'm0001'],
    'messages tied on the oldest sentAt all stay: a page never splits a ms',
  )
  const ties = new NewestWindow(2)
  for (const [n, sentAt] of [
    [1, 5],
    [2, 10],
    [3, 10],
    [4, 10],
    [5, 12],
  ] as const)
    ties.offer({ entry: message(n, sentAt), seq: n })
  t.same(
    ties.newestFirst().map((m) => m.entry.messageId),
    ['m0005', 'm0004', 'm0003', 'm0002'],
    'the 2 newest, then the rest of their ms; 5 falls out',
  )
})

// Two workers, or a send retried after a store outage, store messages out of sentAt order, and several share a ms.
// Paging with the oldest sentAt of a page as the next `before` must reach every message once, each page holding the
// newest left and never splitting a ms.
t.test('message history - paging by sentAt reaches every message stored out of sentAt order', async (t) => {
  const server = await serverFor(t)
  const nc = await connectFor(t, server.url)
  const store = await MessageStore.open(nc, 1)
  const subject = Conversation.direct('a', 'b')
  const total = 230
  const sentAts: number[] = []
  for (let n = 0; n < total; n++) {
    // stream order n; sentAt mostly rising, every 7th message stored 40 ms "late" (and tied with an earlier one),
    // every 5th in the same ms as the one before it
    const sentAt = 1_000_000 + n * 10 - (n % 7 === 0 ? 40 : 0) - (n % 5 === 0 ? 10 : 0)
    sentAts.push(sentAt)
    await store.append(subject, message(n, sentAt), `m${n}`)
  }
  const seen = new Map<string, number>()
  let before: number | undefined
  let pages = 0
  for (;;) {
    const page = await store.history(subject, 20, before)
    pages++
    const left = [...sentAts]
      .map((s, n) => ({ s, n }))
      .filter(({ s }) => before === undefined || s < before)
      .sort((x, y) => y.s - x.s || y.n - x.n)
    const cut = left.length > 20 ? left[19]!.s : -Infinity
    const expected = left.filter(({ s }, i) => i < 20 || s === cut).map(({ n }) => message(n, sentAts[n]!).messageId)
    t.same(
      page.map((m) => m.entry.messageId),
      expected,
      `page ${pages} is the 20 newest before ${before ?? 'now'}, and the rest of the last one's ms`,
    )
    for (const m of page) seen.set(m.entry.messageId, (seen.get(m.entry.messageId) ?? 0) + 1)
    if (page.length < 20) break
    before = page[page.length - 1]!.entry.sentAt
  }
  t.equal(seen.size, total, `every message was reached (${pages} pages)`)
  t.ok(
    [...seen.values()].every((c) => c === 1),
    'none twice',
  )
  t.ok(new Set(sentAts).size < total, 'the conversation has ms with more than one message')
})
