import t from 'tap'
import {
  DEFAULT_RESTART_BACKOFF,
  DEFAULT_RESTART_INITIAL_MS,
  DEFAULT_RESTART_MAX_MS,
  DEFAULT_RESTART_RESET_MS,
  nextRestart,
  restartDelay,
} from '../../scripts/restart-backoff.ts'

t.test('restart-backoff - the delay starts at 500 ms and doubles with each restart up to a 30 s cap', async (t) => {
  t.same(DEFAULT_RESTART_BACKOFF, { initialMs: DEFAULT_RESTART_INITIAL_MS, maxMs: DEFAULT_RESTART_MAX_MS, resetMs: DEFAULT_RESTART_RESET_MS })
  t.same(
    [1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => restartDelay(n)),
    [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000],
  )
  t.equal(restartDelay(5_000), 30_000, 'a huge restart count stays at the cap (2 ** n overflowing to Infinity included)')
  const fast = { initialMs: 10, maxMs: 35, resetMs: 1_000 }
  t.same(
    [1, 2, 3, 4].map((n) => restartDelay(n, fast)),
    [10, 20, 35, 35],
    'with other options',
  )
})

t.test('restart-backoff - a restart number that is not an integer >= 1 is refused', async (t) => {
  for (const n of [0, -1, 1.5, Number.NaN]) t.throws(() => restartDelay(n), RangeError, String(n))
})

t.test('restart-backoff - the count goes on, and starts over once the child served for the reset time', async (t) => {
  t.equal(nextRestart(0, undefined), 1, 'the first restart')
  t.equal(nextRestart(3, undefined), 4, 'a child that never served again counts on')
  t.equal(nextRestart(3, DEFAULT_RESTART_RESET_MS - 1), 4, 'one that served less than the reset time counts on')
  t.equal(nextRestart(3, DEFAULT_RESTART_RESET_MS), 1, 'one that served the reset time starts over')
  t.equal(nextRestart(7, 5, { initialMs: 1, maxMs: 2, resetMs: 5 }), 1, 'with other options')
})
