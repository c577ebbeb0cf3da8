import t from 'tap'
import { client } from 'switchboard'
import { connectFor, failureOf, serverFor } from '../harness/index.ts'
import { Echo } from '../fixtures/echo-contract.ts'
import { startEcho } from '../fixtures/echo-worker.ts'
import { testNkey } from '../fixtures/nats-conf.ts'

t.test('worker - serve() fails when the server refuses its subscriptions', async (t) => {
  const other = testNkey()
  const server = await serverFor(t, {
    jetstream: false,
    extra: `authorization { users: [
      { nkey: ${other.publicKey}, permissions: { subscribe: ["rpc.other.>", "_INBOX.>", "$SRV.>"], publish: { allow: [">"] } } }
    ] }`,
  })
  const nc = await connectFor(t, server.url, { authenticator: other.authenticator })
  await t.rejects(startEcho(nc), /echo worker cannot subscribe to rpc\.echo\.echo.*permissions/)
  t.notOk(nc.isClosed(), 'the connection stays usable')
})

t.test('client - calls the server refuses fail fast with PERMISSION_DENIED', async (t) => {
  const [svcKey, boxed] = [testNkey(), testNkey()]
  const server = await serverFor(t, {
    jetstream: false,
    extra: `authorization { users: [
      { nkey: ${svcKey.publicKey} },
      { nkey: ${boxed.publicKey}, permissions: { subscribe: ["_INBOX_boxed.>"], publish: ["rpc.echo.echo"] } }
    ] }`,
  })
  const svc = await connectFor(t, server.url, { authenticator: svcKey.authenticator })
  const worker = await startEcho(svc)
  t.teardown(() => worker.stop())

  const wrongInbox = await connectFor(t, server.url, { authenticator: boxed.authenticator })
  const started = Date.now()
  const err = await failureOf(client(wrongInbox, Echo, { timeout: 3_000 }).whoami({}))
  t.equal(err.code, 'PERMISSION_DENIED')
  t.match(err.message, /cannot receive replies.*inboxPrefix/)
  t.ok(Date.now() - started < 1_000, 'not left to time out')

  const nc = await connectFor(t, server.url, { authenticator: boxed.authenticator, inboxPrefix: '_INBOX_boxed' })
  const echo = client(nc, Echo, { timeout: 3_000 })
  t.same(await echo.echo({ text: 'allowed' }), { text: 'allowed', worker: 'w1' })
  const t0 = Date.now()
  const denied = await failureOf(echo.whoami({}))
  t.equal(denied.code, 'PERMISSION_DENIED')
  t.match(denied.message, /not allowed to call rpc\.echo\.whoami/)
  t.ok(Date.now() - t0 < 1_000, 'not left to time out')
})
