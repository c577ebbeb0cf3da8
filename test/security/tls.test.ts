import t from 'tap'
import Type from 'typebox'
import { client, defineService, serve } from 'switchboard'
import { serverFor } from '../harness/index.ts'
import { confSecurity, connectAs, includeLine, TLS_CONF } from '../fixtures/nats-conf.ts'
import { hasOpenssl, makeTestCert } from '../fixtures/test-cert.ts'

const UserLike = defineService('user', {
  version: '1.0.0',
  methods: { ping: { input: Type.Object({ n: Type.Integer() }), output: Type.Object({ n: Type.Integer() }) } },
})

t.test('tls - config/tls.conf with a test certificate works end to end', async (t) => {
  if (!hasOpenssl()) throw new Error('openssl is needed to make the test certificate: apt-get install openssl (.ci/run installs it)')
  const cert = makeTestCert()
  t.teardown(() => cert.remove())
  // config/tls.conf reads the paths from the environment; the harness's nats-server inherits it.
  process.env.SWITCHBOARD_TLS_CERT = cert.certFile
  process.env.SWITCHBOARD_TLS_KEY = cert.keyFile
  const server = await serverFor(t, { jetstream: false, extra: `${confSecurity()}\n${includeLine(TLS_CONF)}\n` })
  const tls = { ca: cert.caPem }
  const worker = await connectAs(`tls://127.0.0.1:${server.port}`, 'user', { tls })
  t.teardown(() => worker.close())
  const caller = await connectAs(`tls://127.0.0.1:${server.port}`, 'client', { tls })
  t.teardown(() => caller.close())
  t.ok(caller.info?.tls_required, 'the server requires TLS')
  const w = await serve(worker, UserLike, { ping: ({ n }) => ({ n: n + 1 }) })
  t.teardown(() => w.stop())
  const users = client(caller, UserLike)
  for (let n = 0; n < 50; n++) t.same(await users.ping({ n }), { n: n + 1 })

  await t.rejects(
    connectAs(`tls://127.0.0.1:${server.port}`, 'client', { tls: {}, reconnect: false, timeout: 2_000 }),
    /certificate|self.signed|verify/i,
    'a client that does not trust the test CA is refused',
  )
  await t.rejects(connectAs(server.url, 'client', { tls: null, reconnect: false, timeout: 2_000 }), /tls|TLS|secure/, 'a plaintext client is refused')
})
