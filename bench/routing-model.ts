/**
 * A model, not a measurement: the share of ideal speed-up that bench:scale's I/O-bound setup can reach when CPU
 * costs nothing. k workers of `maxInFlight` slots and a backlog of `maxQueued` each, k × maxInFlight calls kept in
 * flight, served in `serviceMs`, `tripMs` between a reply and the next call (and for a refused call's round trip).
 * A call that finds its worker full waits in the backlog, or is refused and sent again when the backlog is full too.
 * Routing: `exploreEvery` 1 sends every call to a worker picked uniformly at random (as a NATS queue group does);
 * n > 1 models the client's balancer: every n-th call at random (not counted until its reply, as the client does not
 * know where it went), the others to the worker with the fewest of the caller's calls in flight.
 * `npx tsx bench/routing-model.ts [--seconds S]`: the share of ideal at 2, 4 and 8 workers, one line per maxQueued
 * (random routing), then one line per exploreEvery (balanced, the default backlog).
 */
import { numberOption } from './args.ts'
import { textTable } from './table.ts'

export interface RoutingModel {
  readonly workers: number
  readonly maxInFlight: number
  readonly maxQueued: number
  readonly serviceMs: number
  readonly tripMs: number
  readonly seconds: number
  readonly seed: number
  /** 1: every call at random; n > 1: every n-th call at random, the others to the least loaded worker. */
  readonly exploreEvery?: number
}

/** Calls completed per ms by the modelled workers. */
export function modelRate(m: RoutingModel): number {
  let s = m.seed >>> 0
  const random = () => {
    s = (s + 0x6d2b79f5) >>> 0
    let x = Math.imul(s ^ (s >>> 15), 1 | s)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
  const explore = m.exploreEvery ?? 1
  const busy = new Array<number>(m.workers).fill(0)
  /** Per worker, its waiting calls: whether each was routed at random (not counted by the caller). */
  const queued: boolean[][] = Array.from({ length: m.workers }, () => [])
  /** The caller's count of its calls in flight per worker (calls routed at random are not in it). */
  const known = new Array<number>(m.workers).fill(0)
  /** Pending events: [time, worker, blind] — a worker finishing a call, or (worker -1) a call arriving. */
  const events: [number, number, boolean][] = []
  let calls = 0
  const pickLeast = () => {
    const start = Math.floor(random() * m.workers)
    let w = start
    for (let i = 1; i < m.workers; i++) {
      const c = (start + i) % m.workers
      if (known[c]! < known[w]!) w = c
    }
    return w
  }
  const arrive = (now: number) => {
    const blind = explore === 1 || ++calls % explore === 0
    const w = blind ? Math.floor(random() * m.workers) : pickLeast()
    if (busy[w]! < m.maxInFlight) {
      busy[w]!++
      if (!blind) known[w]!++
      events.push([now + m.serviceMs, w, blind])
    } else if (queued[w]!.length < m.maxQueued) {
      if (!blind) known[w]!++
      queued[w]!.push(blind)
    } else events.push([now + m.tripMs, -1, false])
  }
  for (let i = 0; i < m.workers * m.maxInFlight; i++) events.push([random() * m.tripMs, -1, false])
  const end = m.seconds * 1000
  let now = 0
  let done = 0
  while (now < end) {
    let next = 0
    for (let i = 1; i < events.length; i++) if (events[i]![0] < events[next]![0]) next = i
    const [time, w, blind] = events[next]!
    events[next] = events[events.length - 1]!
    events.pop()
    now = time
    if (w < 0) {
      arrive(now)
      continue
    }
    done++
    if (!blind) known[w]!--
    const waiting = queued[w]!.shift()
    if (waiting !== undefined) events.push([now + m.serviceMs, w, waiting])
    else busy[w]!--
    events.push([now + m.tripMs, -1, false])
  }
  return done / now
}

if (process.argv[1]?.endsWith('routing-model.ts')) {
  const seconds = numberOption('seconds', 60)
  const base = { maxInFlight: 10, serviceMs: 5, tripMs: 0.5, seconds, seed: 5 }
  const rows = [0, 2, 3, 5, 10].map((maxQueued) => {
    const one = modelRate({ ...base, workers: 1, maxQueued })
    return [String(maxQueued), ...[2, 4, 8].map((k) => (modelRate({ ...base, workers: k, maxQueued }) / one / k).toFixed(3))]
  })
  console.log(
    `routing model: maxInFlight ${base.maxInFlight}, service ${base.serviceMs} ms, trip ${base.tripMs} ms, ${seconds} s simulated; share of ideal speed-up`,
  )
  console.log('\nrandom routing (a queue group):')
  console.log(textTable(['maxQueued', '2 workers', '4 workers', '8 workers'], rows))
  const balanced = [4, 16, 64].map((exploreEvery) => {
    const one = modelRate({ ...base, workers: 1, maxQueued: 5, exploreEvery })
    return [String(exploreEvery), ...[2, 4, 8].map((k) => (modelRate({ ...base, workers: k, maxQueued: 5, exploreEvery }) / one / k).toFixed(3))]
  })
  console.log('\nbalanced (fewest calls in flight; every exploreEvery-th call at random), maxQueued 5:')
  console.log(textTable(['exploreEvery', '2 workers', '4 workers', '8 workers'], balanced))
}
