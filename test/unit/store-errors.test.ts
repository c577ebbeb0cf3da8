import t from 'tap'
import { RpcError } from 'switchboard'
import { isTransientStoreError, storeErrors, untilStoreReady } from '../../services/shared/store-errors.ts'

const named = (name: string, message = 'x', code?: unknown) => Object.assign(new Error(message), { name, code })

t.test('store errors - passing NATS/JetStream failures become UNAVAILABLE, others pass unchanged', async (t) => {
  for (const name of ['TimeoutError', 'NoResponders', 'JetStreamNotEnabled', 'RequestError']) t.ok(isTransientStoreError(named(name)), name)
  t.ok(isTransientStoreError(named('JetStreamApiError', 'stream leader election', 503)))
  t.ok(isTransientStoreError(named('JetStreamApiError', 'JetStream cluster not ready')))
  t.notOk(isTransientStoreError(named('JetStreamApiError', 'wrong last sequence: 4', 400)), 'a lost compare-and-set is not transient')
  t.notOk(isTransientStoreError(new RpcError('UNAVAILABLE', 'x')))
  t.notOk(isTransientStoreError(new TypeError('bug')))
  const ctx = {} as never
  await t.rejects(
    storeErrors(ctx, () => Promise.reject(named('TimeoutError', 'timeout'))),
    { code: 'UNAVAILABLE', message: /state store unavailable/ },
  )
  await t.rejects(
    storeErrors(ctx, () => Promise.reject(new TypeError('bug'))),
    TypeError,
  )
  t.equal(await storeErrors(ctx, () => Promise.resolve(42)), 42)
})

t.test('store errors - opening waits out passing failures (a cluster electing leaders), not real ones', async (t) => {
  let calls = 0
  const flaky = async () => {
    if (++calls < 3) throw named('TimeoutError', 'timeout')
    return 'open'
  }
  t.equal(await untilStoreReady(flaky, 5_000), 'open')
  t.equal(calls, 3, 'retried twice, then opened')
  calls = 0
  await t.rejects(
    untilStoreReady(async () => {
      calls++
      throw new TypeError('bad config')
    }, 5_000),
    TypeError,
  )
  t.equal(calls, 1, 'a real error is thrown at once')
  const t0 = Date.now()
  await t.rejects(
    untilStoreReady(async () => {
      throw named('NoResponders', 'no responders')
    }, 200),
    { name: 'NoResponders' },
  )
  t.ok(Date.now() - t0 < 1_000, 'and a store that stays away fails after the bound')
})
