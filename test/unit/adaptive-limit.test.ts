import t from 'tap'
import { AdaptiveLimit, DEFAULT_ADAPTIVE_LIMIT, resolveAdaptiveLimit } from '../../services/gateway/adaptive-limit.ts'
import { resolveGatewayOptions } from '../../services/gateway/options.ts'

/** A limit on a clock the test moves, and helpers to run calls of a given latency through it. */
function harness(options: Parameters<typeof resolveAdaptiveLimit>[0] = {}) {
  let now = 0
  const limit = new AdaptiveLimit({ initial: 100, min: 10, max: 1_000, targetMs: 100, windowMs: 200, ...options }, () => now)
  /** One window of `n` calls of `latencyMs` each, ended one by one; returns how many were let in. */
  const window = (n: number, latencyMs: number, congested = false) => {
    let admitted = 0
    for (let i = 0; i < n; i++) if (limit.tryAcquire()) admitted++
    for (let i = 0; i < admitted; i++) limit.release(latencyMs, congested)
    now += 200
    limit.tryAcquire() && limit.release(1) // the next call rolls the window over
    return admitted
  }
  return { limit, window, tick: (ms: number) => (now += ms) }
}

t.test('adaptive-limit - past the limit a call is refused; a release frees its slot', async (t) => {
  const { limit } = harness({ initial: 3, min: 1 })
  t.ok(limit.tryAcquire() && limit.tryAcquire() && limit.tryAcquire(), 'three calls get a slot')
  t.notOk(limit.tryAcquire(), 'the fourth is refused')
  t.equal(limit.inFlight, 3)
  limit.release(5)
  t.ok(limit.tryAcquire(), 'a slot freed is taken again')
})

t.test('adaptive-limit - a lasting queue cuts the limit by a quarter at the third slow window in a row, then every second one', async (t) => {
  const { limit, window } = harness()
  window(50, 500)
  window(50, 500)
  t.equal(limit.limit, 100, 'two slow windows (one GC pause, say) do not cut it')
  window(50, 500)
  t.equal(limit.limit, 75, 'the third does')
  window(50, 500)
  t.equal(limit.limit, 75, 'the next slow window, whose calls were let in before the cut, does not')
  window(50, 500)
  t.equal(limit.limit, 56, 'the one after it does')
  for (let i = 0; i < 20; i++) window(50, 500)
  t.equal(limit.limit, 10, 'never below min')
})

t.test('adaptive-limit - refusals and timeouts downstream count as congestion however fast they come', async (t) => {
  const { limit, window } = harness()
  for (let i = 0; i < 3; i++) window(50, 1, true)
  t.equal(limit.limit, 75)
})

t.test('adaptive-limit - a slow minority does not count; a fast window resets the streak', async (t) => {
  const { limit, window } = harness()
  for (let i = 0; i < 5; i++) {
    // 40 % slow, 60 % fast: the median call is fast
    let admitted = 0
    for (let k = 0; k < 40; k++) if (limit.tryAcquire()) admitted++
    for (let k = 0; k < admitted; k++) limit.release(k < 16 ? 500 : 5)
    window(0, 0)
  }
  t.equal(limit.limit, 100, 'unchanged: no window was slow')
  window(50, 500)
  window(50, 500)
  window(20, 5)
  window(50, 500)
  window(50, 500)
  t.equal(limit.limit, 100, 'two slow, a fast one, two slow: never three in a row')
})

t.test('adaptive-limit - fast windows that use half the limit raise it by a fifth, up to max; idle ones leave it', async (t) => {
  const { limit, window } = harness()
  window(20, 5)
  t.equal(limit.limit, 100, 'a fifth of the limit in use: unchanged')
  window(60, 5)
  t.equal(limit.limit, 120, 'over half of it in use: +20 %')
  for (let i = 0; i < 40; i++) window(limit.limit, 5)
  t.equal(limit.limit, 1_000, 'never above max')
  const before = limit.limit
  window(0, 0)
  t.equal(limit.limit, before, 'a window with next to no calls changes nothing')
})

t.test('adaptive-limit - options are checked and defaulted; the gateway resolves its own', async (t) => {
  t.same(resolveAdaptiveLimit(), DEFAULT_ADAPTIVE_LIMIT)
  t.same(resolveAdaptiveLimit({ targetMs: 250, min: undefined }), { ...DEFAULT_ADAPTIVE_LIMIT, targetMs: 250 })
  t.throws(() => resolveAdaptiveLimit({ min: 0 }), /min must be a positive integer/)
  t.throws(() => resolveAdaptiveLimit({ initial: 10, min: 20 }), /min <= initial <= max/)
  t.throws(() => resolveAdaptiveLimit({ windowMs: 0 }), /targetMs and windowMs/)
  t.same(resolveGatewayOptions({ sendLimit: { initial: 128 } }).sendLimit, { ...DEFAULT_ADAPTIVE_LIMIT, initial: 128 })
  t.throws(() => resolveGatewayOptions({ sendLimit: { max: 1.5 } }), /max must be a positive integer/)
})
