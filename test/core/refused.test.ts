import t from 'tap'
import { serverFor, connectFor } from '../harness/index.ts'
import { startEcho } from '../fixtures/echo-worker.ts'

t.test('worker - serve() fails when the server refuses its subscriptions', async (t) => {
  const server = await serverFor(t, {
    jetstream: false,
    extra: `authorization { users: [
      { user: other, password: pw, permissions: { subscribe: ["rpc.other.>", "_INBOX.>", "$SRV.>"], publish: { allow: [">"] } } }
    ] }`,
  })
  const nc = await connectFor(t, server.url, { user: 'other', pass: 'pw' })
  await t.rejects(startEcho(nc), /echo worker cannot subscribe to rpc\.echo\.echo.*permissions/)
  t.notOk(nc.isClosed(), 'the connection stays usable')
})
