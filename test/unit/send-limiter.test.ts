import t from 'tap'
import { CALLABLE } from '../../services/gateway/methods.ts'
import { gatewayOptionsFromEnv } from '../../services/gateway/env-options.ts'
import { resolveGatewayOptions } from '../../services/gateway/options.ts'
import { RATED_CALLS, SendLimiter } from '../../services/gateway/send-limiter.ts'

t.test('send-limiter - a burst passes, the next send is refused with a retry time, tokens come back at the rate', async (t) => {
  let now = 0
  const l = new SendLimiter({ rate: 10, burst: 3 }, () => now)
  for (let i = 0; i < 3; i++) t.equal(l.take('u1', 'message.send'), undefined, `send ${i + 1} of the burst passes`)
  const e = l.take('u1', 'message.send')
  t.equal(e?.code, 'RESOURCE_EXHAUSTED')
  t.equal(e?.status, 429)
  t.same(e?.data, { retryAfterMs: 100 }, 'one token comes back in 1/rate s')
  t.match(e?.message, /message\.send: over 10 messages\/s \(bursts of 3\): retry in 100 ms/, 'the message says which limit and when to retry')
  t.notOk(e instanceof Error, 'a plain value, no stack trace taken')
  t.equal(l.take('u2', 'message.send'), undefined, 'another user has a bucket of its own')
  now = 100
  t.equal(l.take('u1', 'message.send'), undefined, 'after 100 ms one more send passes')
  t.ok(l.take('u1', 'message.send'), 'and only one')
  now = 10_000
  for (let i = 0; i < 3; i++) t.equal(l.take('u1', 'message.send'), undefined, 'a long pause refills up to the burst')
  t.ok(l.take('u1', 'message.send'), 'not beyond it')
})

t.test('send-limiter - sends, edits, deletes and typing count; reads and logins do not', async (t) => {
  for (const c of ['message.send', 'message.sendGroup', 'message.edit', 'message.delete', 'message.typing']) t.ok(RATED_CALLS.has(c), c)
  for (const c of ['message.sync', 'message.read', 'user.login', 'friend.list']) t.notOk(RATED_CALLS.has(c), c)
  for (const c of RATED_CALLS) t.ok(CALLABLE.has(c), `${c} is a call clients can make (a renamed method would otherwise go unrated)`)
})

t.test('send-limiter - gateway options from the environment', async (t) => {
  t.same(gatewayOptionsFromEnv({ GATEWAY_SEND_RATE: '5' }).sendRate, { rate: 5, burst: 10 }, 'a rate alone allows bursts of twice it')
  t.same(gatewayOptionsFromEnv({ GATEWAY_SEND_RATE: '5/50' }).sendRate, { rate: 5, burst: 50 })
  t.equal(gatewayOptionsFromEnv({ GATEWAY_MAX_IN_FLIGHT: '64' }).maxInFlight, 64)
  t.equal(gatewayOptionsFromEnv({ GATEWAY_PORT: '0' }).port, 0)
  t.throws(() => gatewayOptionsFromEnv({ GATEWAY_SEND_RATE: 'fast' }), /GATEWAY_SEND_RATE/)
  t.throws(() => gatewayOptionsFromEnv({ GATEWAY_MAX_IN_FLIGHT: '-1' }), /GATEWAY_MAX_IN_FLIGHT/)
  t.throws(() => resolveGatewayOptions({ sendRate: { rate: 0, burst: 1 } }), /sendRate/)
  t.same(resolveGatewayOptions().sendRate, { rate: 50, burst: 100 }, 'the default lets a person type freely and stops a script')
})
