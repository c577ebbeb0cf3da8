import t from 'tap'
import { EdgeLimit, EdgeLimits, FrameBudget, resolveEdgeLimits } from '../../services/gateway/edge-limits.ts'
import { gatewayOptionsFromEnv } from '../../services/gateway/env-options.ts'
import { addressKey } from '../../services/gateway/http-listener.ts'
import { resolveGatewayOptions } from '../../services/gateway/options.ts'

t.test('edge limits - sockets per IP and in all are counted and freed', async (t) => {
  const edge = new EdgeLimits(resolveEdgeLimits({ maxConnectionsPerIp: 2, maxSessions: 3 }))
  t.equal(edge.open('10.0.0.1'), undefined)
  t.equal(edge.open('10.0.0.1'), undefined)
  t.match(edge.open('10.0.0.1'), { limit: EdgeLimit.connectionsPerIp, status: 429 }, 'the third from one address is refused')
  t.equal(edge.sessions, 2, 'a refused socket is not counted')
  t.equal(edge.open('10.0.0.2'), undefined, 'another address has its own count')
  t.match(edge.open('10.0.0.3'), { limit: EdgeLimit.sessions, status: 503 }, 'past maxSessions everyone is refused')
  edge.close('10.0.0.1')
  t.equal(edge.open('10.0.0.1'), undefined, 'a closed socket frees its place')
  edge.close('unknown-address')
  t.equal(edge.sessions, 3, 'closing what was never opened frees nothing')
  t.match(edge.open('10.0.0.4'), { limit: EdgeLimit.sessions }, 'so the cap still holds')
})

t.test('edge limits - registrations per IP refill over the hour', async (t) => {
  let now = 0
  const edge = new EdgeLimits(resolveEdgeLimits({ registrationsPerIpPerHour: 3 }), () => now)
  for (let i = 0; i < 3; i++) t.equal(edge.register('10.0.0.1', 'user.register'), undefined, `registration ${i + 1} of 3`)
  const over = edge.register('10.0.0.1', 'user.register')
  t.match(over, { code: 'RESOURCE_EXHAUSTED', status: 429 })
  t.equal(over?.data.retryAfterMs, 1_200_000, 'one comes back every 20 minutes')
  t.equal(edge.register('10.0.0.2', 'user.register'), undefined, 'another address is not affected')
  now += 1_200_000
  t.equal(edge.register('10.0.0.1', 'user.register'), undefined, 'after retryAfterMs it may register again')
  t.ok(edge.register('10.0.0.1', 'user.register'), 'once')
})

t.test('edge limits - a frame budget allows its burst, then its rate', async (t) => {
  let now = 0
  const budget = new FrameBudget({ rate: 10, burst: 3 }, () => now)
  for (let i = 0; i < 3; i++) t.equal(budget.take(), undefined)
  const over = budget.take()
  t.match(over, { status: 429, data: { retryAfterMs: 100 } }, 'past the burst, refused with when to retry')
  now += 100
  t.equal(budget.take(), undefined, 'one frame per 1/rate s after that')
  t.ok(budget.take())
})

t.test('edge limits - nonsense limits and origins are refused when resolved', async (t) => {
  t.throws(() => resolveEdgeLimits({ maxSessions: 0 }), /edge.maxSessions must be a positive integer/)
  t.throws(() => resolveEdgeLimits({ frameRate: { rate: 0, burst: 1 } }), /edge.frameRate/)
  t.throws(() => resolveGatewayOptions({ origins: ['evil.example.com'] }), /not scheme:\/\/host/)
  t.same(resolveGatewayOptions({ origins: ['HTTPS://Chat.Example.org'] }).origins, ['https://chat.example.org'], 'origins compare lowercased')
  t.throws(() => resolveGatewayOptions({ opsListen: { port: 70_000 } }), /opsListen.port/)
  t.equal(resolveGatewayOptions().opsListen, false, 'a gateway made in code serves no ops listener unless asked')
})

t.test('edge limits - the environment sets the ops listener, TLS, origins and limits', async (t) => {
  t.same(gatewayOptionsFromEnv({}).opsListen, { port: 8081, host: '127.0.0.1' }, 'a gateway process has its ops listener on loopback:8081')
  t.equal(gatewayOptionsFromEnv({ GATEWAY_OPS_PORT: 'off' }).opsListen, false)
  t.same(gatewayOptionsFromEnv({ GATEWAY_ORIGINS: 'https://a.example, https://b.example' }).origins, ['https://a.example', 'https://b.example'])
  t.same(gatewayOptionsFromEnv({ GATEWAY_MAX_CONNECTIONS_PER_IP: '5', GATEWAY_FRAME_RATE: '20/40' }).edge, {
    maxSessions: undefined,
    maxConnectionsPerIp: 5,
    registrationsPerIpPerHour: undefined,
    frameRate: { rate: 20, burst: 40 },
  })
  t.throws(() => gatewayOptionsFromEnv({ GATEWAY_TLS_CERT: '/x.pem' }), /GATEWAY_TLS_CERT and GATEWAY_TLS_KEY go together/)
  t.throws(() => gatewayOptionsFromEnv({ GATEWAY_TLS_CERT: '/nonexistent.pem', GATEWAY_TLS_KEY: '/nonexistent.key' }), /GATEWAY_TLS_CERT: cannot read/)
  t.throws(() => gatewayOptionsFromEnv({ GATEWAY_MAX_SESSIONS: 'many' }), /GATEWAY_MAX_SESSIONS must be a positive integer/)
  t.throws(() => gatewayOptionsFromEnv({ GATEWAY_OPS_PORT: '99999' }), /GATEWAY_OPS_PORT must be a port number/)
})

t.test('edge limits - peers are counted by IPv4 address or IPv6 /64', async (t) => {
  t.equal(addressKey('10.1.2.3'), '10.1.2.3')
  t.equal(addressKey('::ffff:10.1.2.3'), '10.1.2.3', 'an IPv4-mapped address is its IPv4 address')
  t.equal(addressKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64')
  t.equal(addressKey('2001:db8:1:2::1'), '2001:db8:1:2::/64', 'one /64, whatever the host part')
  t.equal(addressKey('2001:0db8::'), '2001:db8:0:0::/64')
  t.equal(addressKey('::1'), '0:0:0:0::/64')
})
