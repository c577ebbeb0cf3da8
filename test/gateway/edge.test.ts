import { readFileSync } from 'node:fs'
import t, { type Test } from 'tap'
import { WebSocket } from 'ws'
import { silentLogger } from 'switchboard'
import { startGateway, type Gateway } from '../../services/gateway/gateway.ts'
import type { GatewayOptions } from '../../services/gateway/options.ts'
import { hasOpenssl, makeTestCert } from '../fixtures/test-cert.ts'
import { connectFor, serverFor } from '../harness/index.ts'

/** A socket that opened, or the HTTP status, body and Retry-After its upgrade was refused with. */
type Opened = { ok: true; ws: WebSocket; hello: Record<string, unknown> } | { ok: false; status: number; body: string; retryAfter: string | undefined }

function open(url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options)
    ws.once('message', (data) => resolve({ ok: true, ws, hello: JSON.parse(String(data)) as Record<string, unknown> }))
    ws.once('unexpected-response', (_req, res) => {
      let body = ''
      res.on('data', (d: Buffer) => (body += d.toString()))
      res.on('end', () => resolve({ ok: false, status: res.statusCode ?? 0, body, retryAfter: res.headers['retry-after'] as string | undefined }))
    })
    ws.once('error', (err) => reject(err))
  })
}

/** Sends call frames and collects their replies by id. */
function caller(ws: WebSocket) {
  const waiting = new Map<unknown, (r: Record<string, unknown>) => void>()
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as Record<string, unknown>
    if ('id' in frame) waiting.get(frame.id)?.(frame)
  })
  let next = 0
  return (call: string, input: unknown = {}) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const id = ++next
      waiting.set(id, resolve)
      ws.send(JSON.stringify({ id, call, input }))
    })
}

const errorOf = (reply: Record<string, unknown>) =>
  reply.error as { code: string; status: number; message: string; data?: { retryAfterMs: number } } | undefined

async function gatewayFor(t: Test, options: GatewayOptions): Promise<Gateway> {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const gw = await startGateway(nc, nc, { port: 0, opsListen: { port: 0 }, callTimeout: 500, logger: silentLogger, ...options })
  t.teardown(() => gw.close())
  return gw
}

async function refusals(gw: Gateway): Promise<Record<string, number>> {
  const text = await (await fetch(`${gw.opsUrl}metrics`)).text()
  return Object.fromEntries([...text.matchAll(/^switchboard_gateway_refusals_total\{limit="(\w+)"\} (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]))
}

t.test('gateway edge - a page of a foreign Origin may not open a socket; its own page, listed origins and non-browsers may', async (t) => {
  const gw = await gatewayFor(t, { origins: ['https://chat.example.org'] })
  const own = `http://127.0.0.1:${gw.port}`
  const foreign = await open(gw.url, { origin: 'https://evil.example.com' })
  t.equal(foreign.ok, false, 'a foreign origin is refused')
  if (!foreign.ok) {
    t.equal(foreign.status, 403)
    t.match(foreign.body, /origin https:\/\/evil\.example\.com may not open a socket/, 'with a reason in plain words')
  }
  const lookalike = await open(gw.url, { origin: `http://127.0.0.1:${gw.port + 1}` })
  t.equal(lookalike.ok, false, 'the same host on another port is another origin')
  for (const [what, options] of [
    ['its own page', { origin: own }],
    ['its own page behind a TLS-terminating proxy', { origin: `https://127.0.0.1:${gw.port}` }],
    ['a listed origin', { origin: 'https://chat.example.org' }],
    ['a client without Origin (not a browser)', {}],
  ] as const) {
    const r = await open(gw.url, options)
    t.ok(r.ok, `${what} connects`)
    if (r.ok) {
      t.equal(r.hello.event, 'hello')
      r.ws.close()
    }
  }
  t.equal((await refusals(gw)).origin, 2, 'the refusals are counted in the metrics')
})

t.test('gateway edge - sockets per IP and in all are capped, and free again once some close', async (t) => {
  const gw = await gatewayFor(t, { edge: { maxConnectionsPerIp: 3, maxSessions: 5 } })
  const first = await Promise.all([open(gw.url), open(gw.url), open(gw.url)])
  t.ok(
    first.every((r) => r.ok),
    'three sockets from 127.0.0.1 open',
  )
  const fourth = await open(gw.url)
  t.equal(fourth.ok, false, 'the fourth from the same address is refused')
  if (!fourth.ok) {
    t.equal(fourth.status, 429)
    t.equal(fourth.retryAfter, '1', 'with Retry-After')
    t.match(fourth.body, /over 3 sockets open from/)
  }
  const closed = first[0]!.ok ? first[0]!.ws : undefined
  await new Promise<void>((r) => {
    closed!.once('close', () => r())
    closed!.close()
  })
  await t.resolveMatch(
    waitFor(async () => (await open(gw.url)).ok),
    true,
    'once one closes another opens',
  )
  // 3 from ::ffff:127.0.0.1 are open now; a second address (127.0.0.2 on loopback) fills the gateway to 5
  const other = await Promise.all([open(gw.url, { localAddress: '127.0.0.2' }), open(gw.url, { localAddress: '127.0.0.2' })])
  t.ok(
    other.every((r) => r.ok),
    'another address has its own count',
  )
  const full = await open(gw.url, { localAddress: '127.0.0.3' })
  t.equal(full.ok, false, 'past maxSessions anyone is refused')
  if (!full.ok) {
    t.equal(full.status, 503)
    t.match(full.body, /maximum of 5 sockets/)
  }
  const one = other[0]!.ok ? other[0]!.ws : undefined
  one!.close()
  await t.resolveMatch(
    waitFor(async () => (await open(gw.url, { localAddress: '127.0.0.3' })).ok),
    true,
    'once one closes, the gateway takes another',
  )
  const counts = await refusals(gw)
  t.ok(counts.connections_per_ip! >= 1, 'counted: per IP')
  t.ok(counts.sessions! >= 1, 'counted: sessions')
  for (const r of [...first, ...other]) if (r.ok) r.ws.close()
})

t.test('gateway edge - upgrades that fail their handshake give their place back', async (t) => {
  const gw = await gatewayFor(t, { edge: { maxConnectionsPerIp: 2, maxSessions: 2 } })
  const { port } = new URL(gw.url)
  for (let i = 0; i < 5; i++) {
    const answer = await rawUpgrade(Number(port), i % 2 === 0 ? 'Upgrade: h2c' : 'Upgrade: websocket\r\nSec-WebSocket-Version: 13')
    t.match(answer, /^HTTP\/1\.1 400/, `bad handshake ${i + 1} is refused by ws`)
  }
  await t.resolveMatch(
    waitFor(async () => (await open(gw.url)).ok),
    true,
    'a real socket still opens: nothing was counted for good',
  )
})

t.test('gateway edge - the ops listener answers only to loopback names and those it is given (no DNS rebinding)', async (t) => {
  const gw = await gatewayFor(t, { opsListen: { port: 0, hostnames: ['ops.internal'] } })
  const port = Number(new URL(gw.opsUrl!).port)
  t.equal(await statusWithHost(port, `127.0.0.1:${port}`), 200)
  t.equal(await statusWithHost(port, `localhost:${port}`), 200)
  t.equal(await statusWithHost(port, `ops.internal:${port}`), 200, 'a configured name')
  t.equal(await statusWithHost(port, `evil.example.com:${port}`), 421, 'a rebound name is refused')
  t.equal(await statusWithHost(port, `127.0.0.1:${port + 1}`), 421, 'so is another port')
})

t.test('gateway edge - frames per socket are rate limited with retryAfterMs, and flow again after it', async (t) => {
  const gw = await gatewayFor(t, { edge: { frameRate: { rate: 10, burst: 5 } } })
  const r = await open(gw.url)
  if (!r.ok) return t.fail('the socket opens')
  t.teardown(() => r.ws.close())
  const call = caller(r.ws)
  const replies = await Promise.all(Array.from({ length: 12 }, () => call('user.nope')))
  const limited = replies.filter((x) => errorOf(x)?.status === 429)
  t.ok(limited.length >= 6, `most frames past the burst of 5 are refused (${limited.length} of 12)`)
  t.match(errorOf(limited[0]!)?.message, /over 10 frames\/s on this socket/)
  t.ok((errorOf(limited[0]!)?.data?.retryAfterMs ?? 0) > 0, 'with retryAfterMs')
  t.ok(
    replies.filter((x) => errorOf(x)?.status !== 429).every((x) => errorOf(x)?.code === 'UNIMPLEMENTED'),
    'the others are answered as usual',
  )
  await new Promise((res) => setTimeout(res, 600))
  t.equal(errorOf(await call('user.nope'))?.code, 'UNIMPLEMENTED', 'after a pause the socket is answered again')
  t.equal((await refusals(gw)).frames_per_socket, limited.length, 'counted in the metrics')
  const text = await (await fetch(`${gw.opsUrl}metrics`)).text()
  t.match(text, /^switchboard_gateway_calls_total\{call="other"\} 13$/m, 'every frame counts as a call; a name the gateway does not know as "other"')
  t.notMatch(text, /user\.nope/, 'so a client cannot grow the label set')
  t.match(text, /^switchboard_gateway_call_errors_total\{call="other",code="RESOURCE_EXHAUSTED"\} \d+$/m)
})

t.test('gateway edge - registrations per IP per hour are capped across sockets', async (t) => {
  const gw = await gatewayFor(t, { edge: { registrationsPerIpPerHour: 2 } })
  const a = await open(gw.url)
  const b = await open(gw.url)
  if (!a.ok || !b.ok) return t.fail('the sockets open')
  t.teardown(() => {
    a.ws.close()
    b.ws.close()
  })
  const input = { username: 'edge_user', password: 'edge-password-1' }
  // no user module runs: the first two go on to NATS and fail there, the third is refused at the edge
  const first = await Promise.all([caller(a.ws)('user.register', input), caller(b.ws)('user.register', input)])
  t.ok(
    first.every((x) => errorOf(x)?.status !== 429),
    'two registrations go on',
  )
  const third = errorOf(await caller(b.ws)('user.register', input))
  t.equal(third?.code, 'RESOURCE_EXHAUSTED', 'the third from the same address is refused, on another socket too')
  t.equal(third?.status, 429)
  t.match(third?.message, /over 2 registrations per hour from this address/)
  t.ok((third?.data?.retryAfterMs ?? 0) > 60_000, 'and told to wait most of half an hour')
  t.equal((await refusals(gw)).registrations_per_ip, 1, 'counted in the metrics')
})

t.test('gateway edge - wss:// with a certificate: the page, the socket and the ops listener over TLS', async (t) => {
  if (!hasOpenssl()) throw new Error('openssl is needed to make the test certificate: apt-get install openssl (.ci/run installs it)')
  const cert = makeTestCert()
  t.teardown(() => cert.remove())
  const gw = await gatewayFor(t, { tls: { cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) } })
  t.match(gw.url, /^wss:\/\/127\.0\.0\.1:\d+$/)
  t.match(gw.opsUrl, /^http:\/\/127\.0\.0\.1:/, 'the ops listener on loopback stays plain HTTP (the certificate names the public host)')
  const r = await open(gw.url, { ca: cert.caPem })
  t.ok(r.ok, 'a client that trusts the CA connects with wss://')
  if (r.ok) {
    t.equal(r.hello.event, 'hello')
    t.equal(errorOf(await caller(r.ws)('user.nope'))?.code, 'UNIMPLEMENTED', 'and is answered')
    r.ws.close()
  }
  await t.rejects(open(gw.url), /self-signed|unable to verify|certificate/i, 'one that does not trust it is refused')
  await t.rejects(open(gw.url.replace('wss:', 'ws:')), 'plain ws:// to the TLS port fails')
  const page = await httpsGet(gw.httpUrl, cert.caPem)
  t.equal(page.status, 200, 'the chat page over https')
  t.match(page.headers['strict-transport-security'], /max-age=/, 'with HSTS')
})

async function httpsGet(url: string, ca: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  const { get } = await import('node:https')
  return new Promise((resolve, reject) => {
    get(url, { ca }, (res) => {
      res.resume()
      resolve({ status: res.statusCode ?? 0, headers: res.headers })
    }).once('error', reject)
  })
}

/** Sends an upgrade request with `extra` headers on a raw TCP socket; resolves with the first bytes of the answer. */
async function rawUpgrade(port: number, extra: string): Promise<string> {
  const { connect } = await import('node:net')
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => s.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: Upgrade\r\n${extra}\r\n\r\n`))
    let text = ''
    s.on('data', (d) => (text += d.toString()))
    s.on('close', () => resolve(text))
    s.on('error', reject)
  })
}

/** The status of `GET /ops/api` on `port` with a Host header of `host`. */
async function statusWithHost(port: number, host: string): Promise<number> {
  const { request } = await import('node:http')
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/ops/api', headers: { host } }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
      .once('error', reject)
      .end()
  })
}

async function waitFor(check: () => Promise<boolean>, ms = 2_000): Promise<boolean> {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (await check()) return true
    await new Promise((r) => setTimeout(r, 50))
  }
  return false
}
