import t from 'tap'
import { RpcError } from '../../src/index.ts'
import { isTransientStoreError, storeErrors } from '../../services/shared/store-errors.ts'

const named = (name: string, message = 'x', code?: unknown) => Object.assign(new Error(message), { name, code })

t.test('store errors - passing NATS/JetStream failures become UNAVAILABLE, others pass unchanged', async (t) => {
  for (const name of ['TimeoutError', 'NoResponders', 'JetStreamNotEnabled', 'RequestError']) t.ok(isTransientStoreError(named(name)), name)
  t.ok(isTransientStoreError(named('JetStreamApiError', 'stream leader election', 503)))
  t.ok(isTransientStoreError(named('JetStreamApiError', 'JetStream cluster not ready')))
  t.notOk(isTransientStoreError(named('JetStreamApiError', 'wrong last sequence: 4', 400)), 'a lost compare-and-set is not transient')
  t.notOk(isTransientStoreError(new RpcError('UNAVAILABLE', 'x')))
  t.notOk(isTransientStoreError(new TypeError('bug')))
  const ctx = {} as never
  await t.rejects(storeErrors(ctx, () => Promise.reject(named('TimeoutError', 'timeout'))), { code: 'UNAVAILABLE', message: /state store unavailable/ })
  await t.rejects(storeErrors(ctx, () => Promise.reject(new TypeError('bug'))), TypeError)
  t.equal(await storeErrors(ctx, () => Promise.resolve(42)), 42)
})
