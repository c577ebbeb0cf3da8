import t from 'tap'
import { Admission, type Queued, Refusal } from 'switchboard/internal'

interface Call extends Queued {
  readonly n: number
}

/** An admission whose started calls are recorded and whose clock the test sets. */
function admissionOf(maxInFlight: number, maxQueued: number) {
  const started: number[] = []
  const refused: [number, Refusal][] = []
  let now = 1_000
  const a = new Admission<Call>({ maxInFlight, maxQueued }, { start: (c) => started.push(c.n), refuse: (c, why) => refused.push([c.n, why]) }, () => now)
  return { a, started, refused, setNow: (ms: number) => (now = ms) }
}

t.test('admission - runs up to maxInFlight at once, queues up to maxQueued, refuses the rest as full', async (t) => {
  const { a, started, refused } = admissionOf(2, 1)
  t.ok(a.tryStart() && a.tryStart(), 'two slots')
  t.notOk(a.tryStart(), 'no third slot')
  t.equal(a.inFlight, 2)
  a.enqueue({ n: 3, deadline: Infinity })
  a.enqueue({ n: 4, deadline: Infinity })
  t.equal(a.queued, 1, 'one waits')
  t.same(refused, [[4, Refusal.full]], 'the backlog was full: refused at once')
  a.release()
  t.same(started, [3], 'a freed slot starts the oldest waiting call')
  t.equal(a.inFlight, 2)
  t.equal(a.queued, 0)
})

t.test('admission - maxQueued 0 refuses every call past maxInFlight', async (t) => {
  const { a, refused } = admissionOf(1, 0)
  t.ok(a.tryStart())
  a.enqueue({ n: 1, deadline: Infinity })
  t.same(refused, [[1, Refusal.full]])
})

t.test('admission - a full backlog refuses its expired calls first, at most one sweep per ms', async (t) => {
  const { a, refused, setNow, started } = admissionOf(1, 2)
  a.tryStart()
  a.enqueue({ n: 1, deadline: 1_500 })
  a.enqueue({ n: 2, deadline: 5_000 })
  setNow(2_000)
  a.enqueue({ n: 3, deadline: 5_000 })
  t.same(refused, [[1, Refusal.expired]], 'the expired one made room')
  a.enqueue({ n: 4, deadline: 5_000 })
  t.same(
    refused,
    [
      [1, Refusal.expired],
      [4, Refusal.full],
    ],
    'the same ms: no second sweep, refused as full',
  )
  a.release()
  a.release()
  t.same(started, [2, 3], 'the live ones ran in order')
})

t.test('admission - idle() resolves when nothing runs or waits; close() refuses the waiting calls as stopped', async (t) => {
  const { a, refused, started } = admissionOf(1, 5)
  await a.idle()
  a.tryStart()
  a.enqueue({ n: 1, deadline: Infinity })
  a.enqueue({ n: 2, deadline: Infinity })
  let idle = false
  const p = a.idle().then(() => (idle = true))
  a.close()
  t.same(refused, [
    [1, Refusal.stopped],
    [2, Refusal.stopped],
  ])
  a.release()
  await p
  t.ok(idle, 'idle once the last call released its slot')
  t.same(started, [], 'nothing started after close')
})

t.test('admission - calls that finish at once while the backlog pumps start in a loop, in order', async (t) => {
  const started: number[] = []
  const a: Admission<Call> = new Admission<Call>(
    { maxInFlight: 1, maxQueued: 1_000 },
    {
      start: (c) => {
        started.push(c.n)
        a.release() // finishes synchronously, inside the pump
      },
      refuse: () => t.fail('nothing is refused'),
    },
  )
  a.tryStart()
  for (let n = 0; n < 1_000; n++) a.enqueue({ n, deadline: Infinity })
  a.release()
  t.equal(started.length, 1_000, 'all ran, without recursing 1,000 deep')
  t.same(started.slice(0, 3), [0, 1, 2])
  t.equal(a.inFlight, 0)
})
