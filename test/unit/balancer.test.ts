import t from 'tap'
import { Balancer, DEFAULT_BALANCE, isInstanceId, type Probe } from 'switchboard/internal'
import { resolveClientOptions } from 'switchboard'

t.test('balancer - no instance known: every call goes through the queue group', async (t) => {
  const b = new Balancer()
  for (let i = 0; i < 20; i++) t.equal(b.pick(), undefined)
  t.equal(b.size, 0)
})

t.test('balancer - picks the instance with the fewest calls in flight, ties in turn', async (t) => {
  const b = new Balancer({ exploreEvery: 1_000, maxInstances: 8 })
  for (const id of ['a', 'b', 'c']) b.heard(id)
  t.equal(b.size, 3)
  const first = [b.pick()!, b.pick()!, b.pick()!]
  t.same(first.map((i) => i.id).sort(), ['a', 'b', 'c'], 'three calls, one to each')
  t.same(
    first.map((i) => i.outstanding),
    [1, 1, 1],
  )
  const [a, bb, c] = first
  b.done(bb!)
  t.equal(b.pick(), bb, 'the one that finished has the fewest in flight')
  b.done(a!)
  b.done(c!)
  t.equal(b.pick()!.outstanding, 1, 'an idle one is picked over a busy one')
  const idle = [a, c].find((i) => i!.outstanding === 0)!
  t.equal(b.pick(), idle, 'and the other idle one next')
  const turns = new Map<string, number>()
  for (const i of [a!, bb!, c!]) while (i.outstanding > 0) b.done(i)
  for (let n = 0; n < 30; n++) {
    const i = b.pick()!
    turns.set(i.id, (turns.get(i.id) ?? 0) + 1)
    b.done(i)
  }
  t.same([...turns.values()], [10, 10, 10], 'one call at a time goes round the instances')
})

t.test('balancer - every exploreEvery-th call goes through the queue group', async (t) => {
  const b = new Balancer({ exploreEvery: 4, maxInstances: 8 })
  b.heard('a')
  const picks = Array.from({ length: 12 }, () => b.pick())
  t.same(
    picks.map((p) => p?.id ?? 'queue'),
    ['a', 'a', 'a', 'queue', 'a', 'a', 'a', 'queue', 'a', 'a', 'a', 'queue'],
  )
  const always = new Balancer({ exploreEvery: 1, maxInstances: 8 })
  always.heard('a')
  t.equal(always.pick(), undefined, 'exploreEvery 1: always the queue group')
})

t.test('balancer - forgets an instance, hears it again, and turns off for good', async (t) => {
  const b = new Balancer({ exploreEvery: 1_000, maxInstances: 8 })
  b.heard('a')
  b.heard('b')
  b.heard('a')
  t.equal(b.size, 2, 'hearing a known instance again adds nothing')
  const a = b.pick()!
  b.forget(a)
  b.forget(a)
  t.equal(b.size, 1)
  t.ok(a.gone)
  b.done(a)
  for (let i = 0; i < 5; i++) t.not(b.pick()!.id, a.id, 'a forgotten instance is not picked')
  b.heard(a.id)
  t.equal(b.size, 2, 'a reply through the queue group brings it back')
  b.turnOff()
  t.ok(b.off)
  t.equal(b.size, 0)
  b.heard('c')
  t.equal(b.size, 0, 'turned off: it learns nothing more')
  t.equal(b.pick(), undefined)
})

t.test('balancer - remembers at most maxInstances, dropping the one heard from longest ago', async (t) => {
  const b = new Balancer({ exploreEvery: 1_000, maxInstances: 3 })
  for (const id of ['a', 'b', 'c']) b.heard(id)
  b.heard('a')
  b.heard('d')
  t.equal(b.size, 3)
  const ids = new Set(Array.from({ length: 3 }, () => b.pick()!.id))
  t.same([...ids].sort(), ['a', 'c', 'd'], 'b, heard from longest ago, made room')
})

t.test('balancer - an instance id must be one NATS token of at most 64 characters', async (t) => {
  for (const ok of ['a', 'Zx9-_~!', 'OQ4RRCLBT0NJ1XZC1VAA6S', 'x'.repeat(64)]) t.ok(isInstanceId(ok), ok)
  for (const bad of ['', 'host.example', 'a*', 'a>', 'a b', 'tab\t', 'é', 'x'.repeat(65)]) t.notOk(isInstanceId(bad), JSON.stringify(bad))
  const b = new Balancer()
  b.heard('host.example')
  b.heard('')
  t.equal(b.size, 0, 'an id that cannot be a subject token is ignored')
  const i = new Balancer({ exploreEvery: 99, maxInstances: 2 })
  i.heard('w1')
  const w1 = i.pick()!
  t.equal(w1.subjectOf('rpc.echo.echo'), 'rpc.echo.echo.w1')
  t.equal(w1.subjectOf('rpc.echo.echo'), w1.subjectOf('rpc.echo.echo'), 'the same string each time')
})

t.test('balancer - client option: on by default, false, or partial options checked', async (t) => {
  t.same(resolveClientOptions().balance, DEFAULT_BALANCE)
  t.same(resolveClientOptions({ balance: true }).balance, DEFAULT_BALANCE)
  t.equal(resolveClientOptions({ balance: false }).balance, false)
  const given = { exploreEvery: 8 }
  t.same(resolveClientOptions({ balance: given }).balance, { ...DEFAULT_BALANCE, exploreEvery: 8 })
  t.same(given, { exploreEvery: 8 }, 'the caller object is not changed')
  t.throws(() => resolveClientOptions({ balance: { exploreEvery: 0 } }), /balance.exploreEvery must be an integer >= 1/)
  t.throws(() => resolveClientOptions({ balance: { maxInstances: 1.5 } }), /balance.maxInstances/)
})

t.test('balancer - direct calls start only once the probe says instance subjects are allowed', async (t) => {
  const asked: string[] = []
  let answer: (allowed: boolean | undefined) => void = () => {}
  const probe: Probe = (id) => {
    asked.push(id)
    return new Promise((resolve) => (answer = resolve))
  }
  const b = new Balancer({ exploreEvery: 1_000, maxInstances: 8 }, probe)
  t.equal(b.state, 'unknown')
  b.heard('a')
  b.heard('b')
  t.same(asked, ['a'], 'one probe, for the first instance heard from')
  t.equal(b.state, 'probing')
  t.equal(b.pick(), undefined, 'no direct call while probing')
  answer(undefined)
  await Promise.resolve()
  t.equal(b.state, 'unknown', 'the connection failed first: ask again')
  b.heard('a')
  t.same(asked, ['a', 'a'], 'the next reply asks again, even from a known instance')
  answer(true)
  await Promise.resolve()
  t.equal(b.state, 'on')
  t.ok(b.pick(), 'allowed: direct calls start')
  t.equal(b.size, 2, 'with every instance heard from meanwhile')

  const refused = new Balancer(DEFAULT_BALANCE, async () => false)
  refused.heard('a')
  await Promise.resolve()
  await Promise.resolve()
  t.ok(refused.off, 'refused: off for good')
  t.equal(refused.size, 0)
  const broken = new Balancer(DEFAULT_BALANCE, () => Promise.reject(new Error('boom')))
  broken.heard('a')
  await new Promise((r) => setImmediate(r))
  t.equal(broken.state, 'unknown', 'a probe that throws counts as no answer')
})

t.test('balancer - an instance heard from again while calls to it are in flight keeps their count', async (t) => {
  const b = new Balancer({ exploreEvery: 1_000, maxInstances: 8 })
  b.heard('a')
  b.heard('b')
  const calls = [b.pick()!, b.pick()!, b.pick()!, b.pick()!]
  const a = calls.find((i) => i.id === 'a')!
  const other = calls.find((i) => i.id === 'b')!
  t.equal(a.outstanding, 2)
  b.done(other)
  b.done(other)
  b.forget(a)
  t.equal(b.size, 1)
  b.heard('a')
  t.equal(b.size, 2, 'back in the list')
  t.same([b.pick()!.id, b.pick()!.id], ['b', 'b'], 'its two calls in flight still count against it')
  b.done(other)
  b.done(other)
  b.done(a)
  b.done(a)
  t.equal(a.outstanding, 0)
  b.forget(a)
  b.heard('a')
  const fresh = Array.from({ length: 3 }, () => b.pick()!).find((i) => i.id === 'a')!
  t.not(fresh, a, 'forgotten with nothing in flight: heard again as a new instance')
})

t.test('balancer - a method some instance lacks goes only to instances not known to lack it, and never explores', async (t) => {
  const b = new Balancer({ exploreEvery: 2, maxInstances: 8 })
  const seen: string[] = []
  b.onInstance((id) => seen.push(id))
  for (const id of ['old1', 'old2', 'new1']) b.heard(id)
  t.same(seen, ['old1', 'old2', 'new1'], 'each new instance is announced once')
  b.heard('old1')
  t.same(seen, ['old1', 'old2', 'new1'], 'not again when heard again')
  t.equal(b.lacking('old1', 'count'), true, 'news')
  t.equal(b.lacking('old1', 'count'), false, 'already known')
  t.equal(b.lacking('stranger', 'count'), false, 'an unknown instance is not recorded')
  t.equal(b.lacking('old2', 'count'), true)
  t.ok(b.contested('count'))
  t.notOk(b.contested('add'))
  for (let n = 0; n < 20; n++) {
    const i = b.pick('count')
    t.equal(i?.id, 'new1', `call ${n} of the contested method goes to the one that serves it, none explores`)
    b.done(i!)
  }
  const others = new Set<string | undefined>()
  for (let n = 0; n < 20; n++) {
    const i = b.pick('add')
    others.add(i?.id)
    if (i !== undefined) b.done(i)
  }
  t.ok(others.has(undefined) && others.has('old1'), 'other methods still explore and go to every instance')
  b.lacking('new1', 'count')
  t.equal(b.pick('count'), undefined, 'when every known instance lacks it: the queue group')
  b.forget(b.pick('add') ?? b.pick('add')!)
  for (const id of ['old1', 'old2', 'new1']) {
    const i = [b.pick('add'), b.pick('add'), b.pick('add')].find((x) => x?.id === id)
    if (i !== undefined) b.forget(i)
  }
  t.equal(b.size, 0)
  t.notOk(b.contested('count'), 'forgetting the instances that lacked it ends the contest')
})
