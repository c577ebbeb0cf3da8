import type { Msg, MsgHdrs, NatsConnection, PublishOptions } from '@nats-io/nats-core'
import t from 'tap'
import { decodeEnvelope, Header, Responder, silentLogger } from 'switchboard/internal'

interface Sent {
  readonly subject: string
  readonly body: Uint8Array
  readonly headers: Record<string, string>
}

/**
 * A stand-in connection: the responder publishes through `nc.publish()` when the connection is not nats.js's own
 * (src/wire/publisher.ts), which is what this unit test records. `maxPayload` makes it throw as nats.js does.
 */
function connection(maxPayload = Infinity) {
  const sent: Sent[] = []
  const nc = {
    isClosed: () => false,
    publish(subject: string, data: Uint8Array, opts?: PublishOptions) {
      if (data.length > maxPayload) throw new Error('max_payload size exceeded')
      const text = new TextDecoder().decode((opts?.headers as (MsgHdrs & { encode(): Uint8Array }) | undefined)?.encode() ?? new Uint8Array())
      const headers = Object.fromEntries(
        text
          .split('\r\n')
          .slice(1)
          .filter((l) => l.includes(':'))
          .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]),
      )
      sent.push({ subject, body: data, headers })
    },
  }
  return { nc: nc as unknown as NatsConnection, sent }
}

const msg = (sid: number, reply = '_INBOX.1') => ({ reply, sid, subject: 'rpc.echo.x' }) as unknown as Msg

t.test('responder - OK and error envelopes, with the ADR-32 headers on errors', async (t) => {
  const { nc, sent } = connection()
  const r = new Responder(nc, silentLogger, 'echo')
  r.ok(msg(1), { text: 'hi' })
  r.fail(msg(1), { code: 'NOT_FOUND', status: 404, message: 'no such\r\nthing', data: { id: 1 } })
  t.same(decodeEnvelope(sent[0]!.body), { status: 'OK', result: { text: 'hi' } })
  t.same(sent[0]!.headers, {}, 'no headers on OK while nothing is advertised')
  t.same(decodeEnvelope(sent[1]!.body), { status: 'NOT_FOUND', message: 'no such\r\nthing', data: { id: 1 } })
  t.equal(sent[1]!.headers[Header.ServiceError], 'no such thing', 'the header text has no CR/LF')
  t.equal(sent[1]!.headers[Header.ServiceErrorCode], '404')
  r.ok(msg(1, ''), 'nobody asked')
  t.equal(sent.length, 2, 'a request without a reply subject gets no reply')
})

t.test('responder - names its instance in replies to queue-group calls only, until withdrawn', async (t) => {
  const { nc, sent } = connection()
  const r = new Responder(nc, silentLogger, 'echo')
  r.advertise('w1', new Set([7]))
  r.ok(msg(1), 1)
  r.ok(msg(7), 2)
  r.fail(msg(1), { code: 'INTERNAL', status: 500, message: 'x' })
  r.withdraw()
  r.ok(msg(1), 3)
  t.equal(sent[0]!.headers[Header.Instance], 'w1', 'a queue-group call: named')
  t.equal(sent[1]!.headers[Header.Instance], undefined, 'a call on its own subject (sid 7): not named')
  t.equal(sent[2]!.headers[Header.Instance], 'w1', 'errors name it too')
  t.equal(sent[3]!.headers[Header.Instance], undefined, 'withdrawn')
})

t.test('responder - a reply over max_payload becomes RESOURCE_EXHAUSTED; an unencodable result throws', async (t) => {
  const { nc, sent } = connection(200)
  const r = new Responder(nc, silentLogger, 'echo')
  r.ok(msg(1), 'x'.repeat(500))
  t.equal(sent.length, 1)
  t.match(decodeEnvelope(sent[0]!.body), { status: 'RESOURCE_EXHAUSTED', message: /over the server's max_payload/ })
  t.throws(() => r.ok(msg(1), { big: 2n ** 70n }), 'the caller answers with the encoding failure instead')
  r.fail(msg(1), { code: 'INTERNAL', status: 500, message: 'data cannot go', data: { f: () => 1 } })
  t.same(decodeEnvelope(sent.at(-1)!.body), { status: 'INTERNAL', message: 'data cannot go' }, 'data that cannot be encoded is dropped')
})
