/**
 * A model, not a measurement: the share of ideal speed-up that bench:scale's I/O-bound setup can reach when CPU
 * costs nothing. k workers of `maxInFlight` slots and a backlog of `maxQueued` each, k × maxInFlight calls kept in
 * flight, each call routed to a worker uniformly at random (as a NATS queue group does), served in `serviceMs`,
 * `tripMs` between a reply and the next call (and for a refused call's round trip). A call that finds its worker
 * full waits in the backlog, or is refused and sent again when the backlog is full too.
 * `npx tsx bench/routing-model.ts [--seconds S]`: one line per maxQueued, the share of ideal at 2, 4 and 8 workers.
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
  const busy = new Array<number>(m.workers).fill(0)
  const queued = new Array<number>(m.workers).fill(0)
  /** Pending events: [time, worker] — a worker finishing a call, or (worker -1) a call arriving. */
  const events: [number, number][] = []
  const arrive = (now: number) => {
    const w = Math.floor(random() * m.workers)
    if (busy[w]! < m.maxInFlight) {
      busy[w]!++
      events.push([now + m.serviceMs, w])
    } else if (queued[w]! < m.maxQueued) queued[w]!++
    else events.push([now + m.tripMs, -1])
  }
  for (let i = 0; i < m.workers * m.maxInFlight; i++) events.push([random() * m.tripMs, -1])
  const end = m.seconds * 1000
  let now = 0
  let done = 0
  while (now < end) {
    let next = 0
    for (let i = 1; i < events.length; i++) if (events[i]![0] < events[next]![0]) next = i
    const [time, w] = events[next]!
    events[next] = events[events.length - 1]!
    events.pop()
    now = time
    if (w < 0) {
      arrive(now)
      continue
    }
    done++
    if (queued[w]! > 0) {
      queued[w]!--
      events.push([now + m.serviceMs, w])
    } else busy[w]!--
    events.push([now + m.tripMs, -1])
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
  console.log(`routing model: maxInFlight ${base.maxInFlight}, service ${base.serviceMs} ms, trip ${base.tripMs} ms, ${seconds} s simulated; share of ideal speed-up`)
  console.log(textTable(['maxQueued', '2 workers', '4 workers', '8 workers'], rows))
}
