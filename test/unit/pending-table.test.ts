import t from 'tap'
import { PendingTable } from 'switchboard/internal'

interface Entry {
  token: number
  readonly name: string
}
const entry = (name: string): Entry => ({ token: 0, name })

t.test('pending table - tokens only grow; take returns an entry once; a stale token finds nothing', async (t) => {
  const table = new PendingTable<Entry>()
  const a = entry('a')
  const b = entry('b')
  const ta = table.add(a)
  const tb = table.add(b)
  t.ok(tb > ta, 'tokens grow')
  t.equal(a.token, ta, 'the entry knows its token')
  t.equal(table.size, 2)
  t.equal(table.take(ta), a)
  t.equal(table.take(ta), undefined, 'taken once')
  t.equal(table.take(tb + 1), undefined, 'a token never given')
  // run the tokens round the slots until one lands where `a` was: the old token must not find the new entry
  let later: Entry | undefined
  for (let i = 0; i < 200 && later === undefined; i++) {
    const e = entry(`e${i}`)
    const tok = table.add(e)
    if ((tok & 63) === (ta & 63)) later = e
    else table.take(tok)
  }
  t.ok(later !== undefined, "a later entry took a's slot")
  t.equal(table.take(ta), undefined, "a's late reply finds nothing in its old slot")
  t.equal(table.take(later!.token), later)
  t.equal(table.take(tb), b)
  t.equal(table.size, 0)
})

t.test('pending table - grows past its slots keeping every entry, then compacts after the burst', async (t) => {
  const table = new PendingTable<Entry>()
  const long = entry('long-running')
  table.add(long)
  const burst = Array.from({ length: 5_000 }, (_, i) => entry(`b${i}`))
  for (const e of burst) table.add(e)
  t.equal(table.size, 5_001)
  t.equal(new Set(burst.map((e) => e.token)).size, 5_000, 'distinct tokens')
  t.same(table.entries().length, 5_001)
  for (const e of burst) if (table.take(e.token) !== e) t.fail(`lost ${e.name}`)
  table.compact()
  t.equal(table.take(long.token), long, 'the entry from before the burst survives growth and compaction')
  t.equal(table.size, 0)
  const again = entry('after')
  t.equal(table.take(table.add(again)), again, 'usable after compaction')
})

t.test('pending table - compacting keeps two entries whose tokens would share a slot of the smaller table', async (t) => {
  const table = new PendingTable<Entry>()
  const first = entry('first')
  table.add(first)
  const filler = Array.from({ length: 40 }, (_, i) => entry(`f${i}`))
  for (const e of filler) table.add(e) // past half of 64 slots: the table has 128
  for (const e of filler) table.take(e.token)
  let partner: Entry | undefined
  while (partner === undefined) {
    const e = entry('candidate')
    const tok = table.add(e)
    if (tok === first.token + 64) partner = e
    else table.take(tok)
  }
  table.compact() // 64 slots would put both in one slot: the table stays larger
  t.equal(table.take(first.token), first)
  t.equal(table.take(partner.token), partner)
  t.equal(table.size, 0)
})

t.test('pending table - a new entry skips a token whose slot is still taken', async (t) => {
  const table = new PendingTable<Entry>()
  const held = entry('held')
  table.add(held)
  let last = held.token
  while (last < held.token + 63) {
    last = table.add(entry('passing'))
    table.take(last)
  }
  const next = table.add(entry('next'))
  t.equal(next, held.token + 65, 'the token that maps to the held slot is skipped')
  t.equal(table.take(held.token), held)
})
