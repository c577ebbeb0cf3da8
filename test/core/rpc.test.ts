import { connect } from '@nats-io/transport-node'
import { headers as natsHeaders } from '@nats-io/nats-core'
import t from 'tap'
import Type from 'typebox'
import { client, decodeEnvelope, defineService, encodeBody, Header, isRpcError, MAX_DEPTH, RpcError, serve, silentLogger } from 'switchboard'
import { connectFor, delay, failureOf, serverFor } from '../harness/index.ts'
import { Echo, EchoV2 } from '../fixtures/echo-contract.ts'
import { startEcho } from '../fixtures/echo-worker.ts'

const rejects = (p: Promise<unknown>) => failureOf(p)

t.test('rpc - against one worker', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const workerNc = await connectFor(t, server.url)
  const nc = await connectFor(t, server.url)
  const seen = { aborted: [] as unknown[] }
  const worker = await startEcho(workerNc, 'w1', { maxInFlight: 50, maxQueued: 0 }, seen)
  t.teardown(() => worker.stop())
  const echo = client(nc, Echo, { timeout: 2_000 })

  t.test('rpc - round trip of a nested object', async (t) => {
    const nested = { a: [1, 2.5, 'three', null, true, { deep: { deeper: ['x'] } }], b: { ü: 'ünïcode ✓' }, n: -42 }
    const out = await echo.echo({ text: 'hi', nested })
    t.same(out, { text: 'hi', nested, worker: 'w1' })
  })

  t.test('rpc - invalid input is refused before sending', async (t) => {
    const offline = client(nc, Echo, { prefix: 'nobody-serves-this' })
    const err = await rejects(offline.echo({ text: 42 } as never))
    t.equal(err.code, 'INVALID_ARGUMENT')
    t.equal(err.status, 400)
    t.match(err.message, /\/text/)
    t.match(err.data, { issues: [{ path: '/text' }] })
  })

  t.test('rpc - malformed request headers are INVALID_ARGUMENT before sending', async (t) => {
    for (const headers of [{ 'Bad Name': 'v' }, { 'X-Ok': 'a\r\nInjected: 1' }, { 'Colon:Name': 'v' }] as Record<string, string>[]) {
      const err = await rejects(echo.echo({ text: 'x' }, { headers }))
      t.equal(err.code, 'INVALID_ARGUMENT', JSON.stringify(headers))
    }
    const ok = await echo.whoami({}, { headers: { 'X-Trace-Me': ' padded ', Authorization: 'Bearer ünï' } })
    t.equal(ok.auth, 'Bearer ünï', 'UTF-8 values pass through')
  })

  t.test('rpc - the worker validates input too', async (t) => {
    const loose = client(nc, Echo, { validateInput: false })
    const err = await rejects(loose.slow({ ms: -5 }))
    t.equal(err.code, 'INVALID_ARGUMENT')
    t.match(err.data, { issues: [{ path: '/ms' }] })
  })

  t.test('rpc - a garbage body gets INVALID_ARGUMENT and the worker keeps serving', async (t) => {
    for (const body of [new Uint8Array([0xc1]), new Uint8Array([0x92, 0x01]), new Uint8Array([0xdf, 0xff, 0xff, 0xff, 0xff])]) {
      const reply = await nc.request('rpc.echo.echo', body, { timeout: 1_000 })
      t.match(decodeEnvelope(reply.data), { status: 'INVALID_ARGUMENT', message: /msgpack/ })
      t.equal(reply.headers?.get(Header.ServiceErrorCode), '400')
    }
    const proto = await nc.request('rpc.echo.echo', new Uint8Array([0x81, 0xa9, ...Buffer.from('__proto__'), 0x01]), { timeout: 1_000 })
    t.match(decodeEnvelope(proto.data), { status: 'INVALID_ARGUMENT' })
    t.same(await echo.echo({ text: 'still here' }), { text: 'still here', worker: 'w1' })
  })

  t.test('rpc - a bad Rpc-Deadline header is INVALID_ARGUMENT, a past one DEADLINE_EXCEEDED without running', async (t) => {
    const h = natsHeaders()
    h.set(Header.Deadline, 'soon')
    const bad = await nc.request('rpc.echo.echo', encodeBody({ text: 'x' }), { timeout: 1_000, headers: h })
    t.match(decodeEnvelope(bad.data), { status: 'INVALID_ARGUMENT', message: /Rpc-Deadline/ })
    const past = natsHeaders()
    past.set(Header.Deadline, String(Date.now() - 1_000))
    const before = worker.stats().find((s) => s.name === 'echo')!.num_errors
    const late = await nc.request('rpc.echo.echo', encodeBody({ text: 'x' }), { timeout: 1_000, headers: past })
    t.match(decodeEnvelope(late.data), { status: 'DEADLINE_EXCEEDED' })
    t.equal(worker.stats().find((s) => s.name === 'echo')!.num_errors, before + 1)
  })

  t.test('rpc - a thrown undeclared error is INTERNAL without the stack', async (t) => {
    const err = await rejects(echo.fail({ kind: 'boom' }))
    t.equal(err.code, 'INTERNAL')
    t.equal(err.status, 500)
    t.notMatch(err.message, /secret|at |\.ts/)
    t.equal(err.data, undefined)
  })

  t.test('rpc - an undeclared code, bad declared data or a bad result are INTERNAL', async (t) => {
    for (const kind of ['undeclared-code', 'declared-bad-data', 'bad-output']) {
      const err = await rejects(echo.fail({ kind }))
      t.equal(err.code, 'INTERNAL', kind)
    }
  })

  t.test('rpc - a declared error code reaches the caller with its typed data', async (t) => {
    const err = await rejects(echo.fail({ kind: 'declared' }))
    t.ok(isRpcError(err, Echo, 'fail'))
    if (isRpcError(err, Echo, 'fail') && err.code === 'OUT_OF_STOCK') {
      const left: number = err.data.left
      t.equal(left, 0)
      t.equal(err.data.sku, 'A-1')
    }
    t.equal(err.code, 'OUT_OF_STOCK')
    t.equal(err.status, 409)
    t.equal(err.message, 'sold out')
  })

  t.test('rpc - system codes thrown by handlers pass through', async (t) => {
    for (const code of ['UNAUTHENTICATED', 'PERMISSION_DENIED', 'ALREADY_EXISTS', 'FAILED_PRECONDITION']) {
      const err = await rejects(echo.fail({ kind: `system:${code}` }))
      t.equal(err.code, code)
    }
    const nf = await rejects(echo.fail({ kind: 'not-found' }))
    t.equal(nf.code, 'NOT_FOUND')
    t.equal(nf.status, 404)
  })

  t.test('rpc - a method the worker does not know is UNIMPLEMENTED', async (t) => {
    const v2 = client(nc, EchoV2)
    const err = await rejects(v2.shout({ text: 'hey' }))
    t.equal(err.code, 'UNIMPLEMENTED')
    t.match(err.message, /1\.0\.0.*shout/)
  })

  t.test('rpc - a slow handler gives DEADLINE_EXCEEDED and its signal fires', async (t) => {
    const started = Date.now()
    const err = await rejects(echo.slow({ ms: 5_000 }, { timeout: 200 }))
    const took = Date.now() - started
    t.equal(err.code, 'DEADLINE_EXCEEDED')
    t.ok(took >= 190 && took < 1_000, `took ${took} ms`)
    const until = Date.now() + 1_000
    while (seen.aborted.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10))
    t.equal(seen.aborted.length, 1)
    t.match(seen.aborted[0], { code: 'DEADLINE_EXCEEDED' })
  })

  t.test('rpc - an aborted call is CANCELLED', async (t) => {
    const ac = new AbortController()
    const p = echo.slow({ ms: 2_000 }, { signal: ac.signal })
    setTimeout(() => ac.abort(), 50)
    const err = await rejects(p)
    t.equal(err.code, 'CANCELLED')
    const pre = await rejects(echo.echo({ text: 'x' }, { signal: AbortSignal.abort() }))
    t.equal(pre.code, 'CANCELLED')
  })

  t.test('rpc - the deadline, a derived id and auth pass through a nested call', async (t) => {
    const before = Date.now()
    const out = await echo.deadline({}, { timeout: 1_500, id: 'call-1', headers: { Authorization: 'Bearer abc' } })
    t.ok(out.deadline >= before + 1_500 && out.deadline <= Date.now() + 1_500, 'outer deadline from the caller')
    t.equal(out.nested, out.deadline, 'the nested call inherits the same absolute deadline')
    t.equal(out.id, 'call-1')
    t.equal(out.nestedId, 'call-1.1')
    const who = await echo.whoami({}, { headers: { Authorization: 'Bearer abc' } })
    t.equal(who.auth, 'Bearer abc')
  })

  t.test('rpc - past the in-flight limit the worker answers RESOURCE_EXHAUSTED', async (t) => {
    const busy = worker.inFlight
    const calls = Array.from({ length: 80 }, () =>
      echo.slow({ ms: 300 }).then(
        () => 'ok',
        (e: RpcError) => e.code,
      ),
    )
    const codes = await Promise.all(calls)
    t.equal(codes.filter((c) => c === 'ok').length, 50 - busy)
    t.equal(codes.filter((c) => c === 'RESOURCE_EXHAUSTED').length, 30 + busy)
  })

  t.test('rpc - a request over max_payload is refused before sending', async (t) => {
    const max = nc.info!.max_payload
    const err = await rejects(echo.echo({ text: 'x'.repeat(max + 10) }))
    t.equal(err.code, 'RESOURCE_EXHAUSTED')
    t.match(err.message, /max_payload/)
    t.same(await echo.echo({ text: 'ok' }), { text: 'ok', worker: 'w1' })
  })

  t.test('rpc - a reply over max_payload becomes RESOURCE_EXHAUSTED', async (t) => {
    const err = await rejects(echo.big({ bytes: nc.info!.max_payload + 1 }))
    t.equal(err.code, 'RESOURCE_EXHAUSTED')
    t.match(err.message, /reply/)
  })

  t.test('rpc - stats count requests and errors per method', async (t) => {
    const s = worker.stats().find((x) => x.name === 'fail')!
    t.ok(s.num_requests >= s.num_errors && s.num_errors > 0)
    t.match(s.last_error, /^\d{3}:/)
    t.ok(s.processing_time > 0)
    t.equal(s.subject, 'rpc.echo.fail')
    t.equal(s.queue_group, 'echo')
  })
})

t.test('rpc - no responders is UNAVAILABLE in under 100 ms', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const echo = client(nc, Echo)
  await echo.slow({ ms: 1 }).catch(() => undefined)
  const started = performance.now()
  const err = await rejects(echo.slow({ ms: 1 }))
  const took = performance.now() - started
  t.equal(err.code, 'UNAVAILABLE')
  t.equal(err.status, 503)
  t.ok(took < 100, `took ${took.toFixed(1)} ms`)
})

t.test('rpc - an idempotent method retries until a worker appears; others fail at once', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const workerNc = await connectFor(t, server.url)
  const echo = client(nc, Echo, { timeout: 3_000, retry: { attempts: 6, baseDelay: 50, maxDelay: 400 } })
  const nonIdempotent = await rejects(echo.whoami({}))
  t.equal(nonIdempotent.code, 'UNAVAILABLE')
  const pending = echo.echo({ text: 'eventually' })
  await new Promise((r) => setTimeout(r, 120))
  const worker = await startEcho(workerNc, 'late')
  t.teardown(() => worker.stop())
  t.same(await pending, { text: 'eventually', worker: 'late' })
})

t.test('rpc - with the connection down calls fail fast with UNAVAILABLE, then work again', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const workerNc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 })
  const nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 })
  t.teardown(async () => {
    await nc.close()
    await workerNc.close()
  })
  const worker = await startEcho(workerNc, 'w')
  const echo = client(nc, Echo, { timeout: 5_000 })
  t.same(await echo.echo({ text: 'up' }), { text: 'up', worker: 'w' })
  const inflight = rejects(echo.slow({ ms: 10_000 }))
  await new Promise((r) => setTimeout(r, 50))
  await server.stop({ keepStore: true })
  const lost = await inflight
  t.equal(lost.code, 'UNAVAILABLE', 'a call in flight fails when the connection drops')
  const started = Date.now()
  const down = await rejects(echo.whoami({}))
  t.equal(down.code, 'UNAVAILABLE')
  t.ok(Date.now() - started < 100, 'fails fast while down')
  await server.restart()
  const until = Date.now() + 10_000
  let ok: unknown
  while (Date.now() < until) {
    ok = await echo.echo({ text: 'back' }).catch(() => undefined)
    if (ok !== undefined) break
    await new Promise((r) => setTimeout(r, 100))
  }
  t.same(ok, { text: 'back', worker: 'w' })
  await worker.stop()
})

t.test('rpc - three workers in one queue group all take part in 300 calls', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const ncs = await Promise.all([0, 1, 2, 3].map(() => connectFor(t, server.url)))
  const workers = await Promise.all(['a', 'b', 'c'].map((tag, i) => startEcho(ncs[i]!, tag)))
  t.teardown(() => Promise.all(workers.map((w) => w.stop())))
  const echo = client(ncs[3]!, Echo)
  const outs = await Promise.all(Array.from({ length: 300 }, (_, i) => echo.echo({ text: String(i) })))
  const by = new Map<string, number>()
  for (const o of outs) by.set(o.worker, (by.get(o.worker) ?? 0) + 1)
  t.same([...by.keys()].sort(), ['a', 'b', 'c'])
  for (const [w, n] of by) t.ok(n >= 30, `${w} took ${n} calls`)
  t.same(
    outs.map((o) => o.text),
    Array.from({ length: 300 }, (_, i) => String(i)),
  )
})

t.test('rpc - stop() under load answers every call already taken', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const [n1, n2, nc] = await Promise.all([0, 1, 2].map(() => connectFor(t, server.url)))
  const w1 = await startEcho(n1!, 'one')
  const w2 = await startEcho(n2!, 'two')
  t.teardown(() => w2.stop())
  const echo = client(nc!, Echo, { timeout: 5_000 })
  let failed = 0
  let done = 0
  const run = async () => {
    for (let i = 0; i < 60; i++) {
      await echo.slow({ ms: 20 }).then(
        () => done++,
        () => failed++,
      )
    }
  }
  const load = Promise.all(Array.from({ length: 40 }, run))
  // stop it while it has calls in flight (on a loaded machine the first calls may take a while to arrive)
  for (let waited = 0; w1.inFlight === 0 && waited < 3_000; waited += 10) await new Promise((r) => setTimeout(r, 10))
  t.ok(w1.inFlight > 0, 'the stopped worker had calls in flight')
  await w1.stop()
  t.equal(w1.inFlight, 0)
  await load
  t.equal(failed, 0, 'zero failed calls')
  t.equal(done, 2_400)
})

t.test('rpc - stop() aborts handlers that outlive its grace period', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const [n1, nc] = await Promise.all([0, 1].map(() => connectFor(t, server.url)))
  const seen = { aborted: [] as unknown[] }
  const w = await startEcho(n1!, 'one', { stopTimeout: 100 }, seen)
  const echo = client(nc!, Echo, { timeout: 5_000 })
  const p = echo.slow({ ms: 4_000 })
  await new Promise((r) => setTimeout(r, 50))
  const started = Date.now()
  await w.stop()
  t.ok(Date.now() - started < 1_000, 'stop did not wait out the handler')
  t.same(await p, { aborted: true }, 'the call was still answered')
  t.match(seen.aborted[0], { code: 'UNAVAILABLE' })
  t.equal(w.live.size, 0, 'the answered call left the table of live contexts')
})

t.test('rpc - serve() refuses handlers that do not match the contract', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  t.throws(() => serve(nc, Echo, {} as never), /no handler for echo\.echo/)
  t.throws(() => serve(nc, Echo, { extra: () => 1 } as never), /no method 'extra'/)
})

t.test('rpc - a body nested past MAX_DEPTH is INVALID_ARGUMENT and never runs', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const worker = await startEcho(nc, 'deep')
  t.teardown(() => worker.stop())
  let nested: unknown = 'leaf'
  for (let i = 0; i < MAX_DEPTH + 5; i++) nested = { n: nested }
  const reply = await nc.request('rpc.echo.echo', encodeBody({ text: 'x', nested }), { timeout: 1_000 })
  t.match(decodeEnvelope(reply.data), { status: 'INVALID_ARGUMENT', message: /deeper than 64/ })
  t.equal(worker.stats().find((s) => s.name === 'echo')!.num_requests, 1)
  let fine: unknown = 'leaf'
  for (let i = 0; i < MAX_DEPTH - 2; i++) fine = [fine]
  t.same(await client(nc, Echo).echo({ text: 'y', nested: fine }), { text: 'y', nested: fine, worker: 'deep' }, 'nesting within the limit round-trips')
})

t.test('rpc - replies reach the caller through an inbox prefix with non-ASCII characters', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const worker = await startEcho(await connectFor(t, server.url), 'w')
  t.teardown(() => worker.stop())
  const nc = await connectFor(t, server.url, { inboxPrefix: '_INBOX_çà_ü' })
  const echo = client(nc, Echo, { timeout: 2_000 })
  const texts = Array.from({ length: 50 }, (_, i) => `m${i}`)
  const replies = await Promise.all(texts.map((text) => echo.echo({ text })))
  t.same(
    replies.map((r) => r.text),
    texts,
    'every reply matched to its own call',
  )
})

t.test('rpc - a first call on a draining connection fails UNAVAILABLE instead of throwing', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connect({ servers: server.url })
  const drained = nc.drain()
  const err = await failureOf(client(nc, Echo, { timeout: 1_000 }).echo({ text: 'x' }))
  t.ok(err instanceof RpcError, 'an RpcError')
  t.equal(err.code, 'UNAVAILABLE')
  await drained
})

t.test('rpc - a nested call cut off by its handler deadline fails DEADLINE_EXCEEDED, not CANCELLED', async (t) => {
  const Outer = defineService('outer', { version: '1.0.0', methods: { run: { input: Type.Object({}), output: Type.Object({}) } } })
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const echoWorker = await startEcho(nc, 'w')
  // the handler's catch may run after the outer caller has given up (both at the same deadline): wait for it
  let nestedFailed: (err: RpcError) => void = () => {}
  const nested = new Promise<RpcError | undefined>((resolve) => (nestedFailed = resolve))
  const outer = await serve(
    nc,
    Outer,
    {
      async run(_, ctx) {
        try {
          await ctx.client(Echo).slow({ ms: 2_000 }, { signal: ctx.signal })
        } catch (err) {
          nestedFailed(err as RpcError)
        }
        return {}
      },
    },
    { logger: silentLogger },
  )
  t.teardown(async () => {
    await outer.stop()
    await echoWorker.stop()
  })
  const err = await failureOf(client(nc, Outer, { timeout: 300 }).run({}))
  t.equal(err.code, 'DEADLINE_EXCEEDED', 'the outer call')
  const cut = await Promise.race([nested, delay(3_000).then(() => undefined)])
  t.equal(cut?.code, 'DEADLINE_EXCEEDED', 'the nested call, cut off by the same deadline')
})
