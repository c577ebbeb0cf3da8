import t from 'tap'
import { headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection } from '@nats-io/nats-core'
import { publish, wireHeaders } from 'switchboard/internal'
import { connectFor, delay, serverFor } from '../harness/index.ts'

/** The next message on `subject`. */
function nextOn(nc: NatsConnection, subject: string): Promise<Msg> {
  return new Promise((resolve) => nc.subscribe(subject, { max: 1, callback: (_err, msg) => resolve(msg) }))
}

t.test('publisher - what it sends arrives as nc.publish() would send it: subject, reply, headers, body', async (t) => {
  const server = await serverFor(t)
  const nc = await connectFor(t, server.url)
  const rx = await connectFor(t, server.url)
  const cases: { name: string; subject: string; reply: string; headers?: Record<string, string>; nats?: true; body: Uint8Array }[] = [
    { name: 'reply and headers', subject: 'pub.a', reply: 'inbox.one.1', headers: { 'Rpc-Id': 'abc', Extra: 'vällue ✓' }, body: Buffer.from('body one') },
    { name: 'reply, no headers', subject: 'pub.b', reply: 'inbox.one.2', headers: undefined, body: Buffer.from([0, 1, 2, 255]) },
    { name: 'headers, no reply', subject: 'pub.c', reply: '', headers: { 'Nats-Service-Error': 'failed' }, body: new Uint8Array(0) },
    { name: 'nats.js MsgHdrs', subject: 'pub.d', reply: 'inbox.one.3', headers: { 'Rpc-Id': 'from nats.js' }, nats: true, body: Buffer.from('x') },
    { name: 'neither, non-ASCII subject', subject: 'pub.ünïcode.主题', reply: '', headers: undefined, body: Buffer.from('ü') },
  ]
  for (const c of cases) {
    const got = nextOn(rx, c.subject)
    await rx.flush()
    const before = nc.stats().outMsgs
    let h: MsgHdrs | undefined
    if (c.headers !== undefined && c.nats === true) {
      h = natsHeaders()
      for (const [k, v] of Object.entries(c.headers)) h.set(k, v)
    } else if (c.headers !== undefined) h = wireHeaders(c.headers)
    publish(nc, c.subject, c.reply, h, c.body)
    const msg = await got
    t.equal(msg.subject, c.subject, `${c.name}: subject`)
    t.equal(msg.reply ?? '', c.reply, `${c.name}: reply`)
    t.same(Buffer.from(msg.data), Buffer.from(c.body), `${c.name}: body`)
    const headers = msg.headers === undefined ? undefined : Object.fromEntries([...msg.headers].map(([k, v]) => [k, v[0]]))
    t.same(headers, c.headers, `${c.name}: headers`)
    t.equal(nc.stats().outMsgs, before + 1, `${c.name}: counted in the connection's stats`)
  }
})

t.test('publisher - the fast path is the one taken on this nats.js; the unusual goes through nc.publish()', async (t) => {
  const server = await serverFor(t, { extra: 'max_payload: 2048', jetstream: false })
  const nc = await connectFor(t, server.url)
  const calls: string[] = []
  const original = nc.publish.bind(nc)
  nc.publish = (subject, payload, options) => {
    calls.push(subject)
    original(subject, payload, options)
  }
  publish(nc, 'fast.one', 'inbox.x.1', wireHeaders({ 'Rpc-Id': 'x' }), Buffer.from('hello'))
  publish(nc, 'fast.two', '', undefined, Buffer.from('hello'))
  t.same(calls, [], 'ordinary messages bypass nc.publish() (its TextEncoder and regexes)')

  t.throws(() => publish(nc, 'has space', '', undefined, Buffer.from('x')), { name: 'InvalidSubjectError' }, 'a bad subject: nats.js error')
  t.throws(() => publish(nc, 'ok.subject', 'bad reply', undefined, Buffer.from('x')), { name: 'InvalidSubjectError' }, 'a bad reply subject: nats.js error')
  t.throws(() => publish(nc, 'big', '', wireHeaders({ a: 'b' }), Buffer.alloc(2048)), /max_payload/, 'over max_payload, headers counted')
  t.same(calls, ['has space', 'ok.subject', 'big'], 'each of those went through nc.publish()')
  await nc.close()
  t.throws(() => publish(nc, 'fast.three', '', undefined, Buffer.from('x')), { name: 'ClosedConnectionError' }, 'a closed connection: nats.js error')
  await delay(0)
})
