import { Writable } from 'node:stream'
import { trace, type Context, type Span, type SpanContext, type SpanOptions, type Tracer, type TracerProvider } from '@opentelemetry/api'
import { Registry } from 'prom-client'
import t from 'tap'
import { client, levelFromEnv, parseTraceparent, pinoLogger, RpcError } from 'switchboard'
import { tracingFor } from 'switchboard/internal'
import { connectFor, serverFor } from '../harness/index.ts'
import { Echo } from '../fixtures/echo-contract.ts'
import { startEcho } from '../fixtures/echo-worker.ts'

type Line = Record<string, unknown> & { level: number; msg: string }

/** A pino destination that keeps the parsed lines. */
function capture(): { lines: Line[]; stream: Writable } {
  const lines: Line[] = []
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l !== '') lines.push(JSON.parse(l))
      done()
    },
  })
  return { lines, stream }
}

t.test('log - pino lines redact passwords, tokens and the Authorization header', async (t) => {
  const { lines, stream } = capture()
  const log = pinoLogger({ level: 'debug', destination: stream })
  log.info(
    {
      input: { username: 'ann', password: 'hunter22', token: 'tok-1' },
      headers: { Authorization: 'Bearer tok-2' },
      password: 'p',
      nested: { deep: { token: 'tok-3' } },
    },
    'x',
  )
  const text = JSON.stringify(lines)
  for (const secret of ['hunter22', 'tok-1', 'tok-2', 'tok-3', '"p"']) t.notOk(text.includes(secret), secret)
  t.match(lines[0], { input: { username: 'ann', password: '[redacted]' }, headers: { Authorization: '[redacted]' } })
  t.equal(levelFromEnv({ LOG_LEVEL: 'DEBUG' }), 'debug')
  t.equal(levelFromEnv({ LOG_LEVEL: 'loud' }), undefined)
  t.equal(pinoLogger({ level: 'warn', destination: stream }).isLevelEnabled('debug'), false)
})

t.test('log - one debug line per call; a nested call shares the trace id, its parent is the handler span', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const { lines, stream } = capture()
  const w = await startEcho(nc, 'w1', { logger: pinoLogger({ level: 'debug', destination: stream }) })
  t.teardown(() => w.stop())
  const echo = client(nc, Echo, { timeout: 2_000 })
  const out = await echo.deadline({}, { id: 'req-1', headers: { Authorization: 'Bearer secret-tok' } })
  t.equal(out.nestedId, 'req-1.1')
  const calls = lines.filter((l) => l.msg === 'call')
  const outer = calls.find((l) => l.method === 'deadline')!
  const inner = calls.find((l) => l.method === 'whoami')!
  t.match(outer, { level: 20, service: 'echo', request_id: 'req-1', status: 'OK', duration_ms: Number, trace_id: /^[0-9a-f]{32}$/, span_id: /^[0-9a-f]{16}$/ })
  t.match(inner, { request_id: 'req-1.1', status: 'OK' })
  t.equal(inner.trace_id, outer.trace_id, 'one trace')
  t.equal(inner.parent_span_id, outer.span_id, 'the nested call is a child of the handler span')
  t.notOk(JSON.stringify(lines).includes('secret-tok'))

  const traced = client(nc, Echo, { timeout: 2_000, trace: true })
  await traced.echo({ text: 'a' }, { id: 'req-2' })
  const line = lines.find((l) => l.request_id === 'req-2')!
  t.ok(line.parent_span_id !== undefined, 'a tracing client starts the trace, the worker continues it')

  await echo.echo({ text: 1 } as never, { id: 'req-3' }).catch(() => undefined)
  const loose = client(nc, Echo, { validateInput: false })
  await loose.echo({ text: 1 } as never, { id: 'req-4' }).catch(() => undefined)
  t.match(
    lines.find((l) => l.request_id === 'req-4'),
    { level: 40, status: 'INVALID_ARGUMENT', msg: 'call refused' },
  )
  await echo.fail({ kind: 'boom' }, { id: 'req-5' }).catch(() => undefined)
  t.match(
    lines.find((l) => l.request_id === 'req-5' && l.msg === 'call failed'),
    { level: 50, status: 'INTERNAL', method: 'fail' },
  )
})

t.test('log - at info level a successful call writes nothing', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const { lines, stream } = capture()
  const w = await startEcho(nc, 'w1', { logger: pinoLogger({ level: 'info', destination: stream }) })
  t.teardown(() => w.stop())
  await client(nc, Echo).deadline({})
  t.same(lines, [])
})

t.test('metrics - requests, errors by code and durations per method on /metrics from start() to stop()', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const registry = new Registry()
  const w = await startEcho(nc, 'w1', { metrics: { registry, port: 0 } })
  t.teardown(() => w.stop())
  const w2 = await startEcho(nc, 'w2', { metrics: { registry } })
  t.teardown(() => w2.stop())
  t.match(w.metricsUrl, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
  t.equal(w2.metricsUrl, undefined)
  const echo = client(nc, Echo, { timeout: 2_000, validateInput: false })
  for (let i = 0; i < 4; i++) await echo.echo({ text: 'x' })
  await echo.echo({ text: 2 } as never).catch(() => undefined)
  await echo.fail({ kind: 'declared' }).catch(() => undefined)
  await echo.fail({ kind: 'not-found' }).catch(() => undefined)
  const res = await fetch(w.metricsUrl!)
  t.equal(res.status, 200)
  const text = await res.text()
  t.match(text, /switchboard_requests_total\{service="echo",method="echo"\} 5\n/)
  t.match(text, /switchboard_requests_total\{service="echo",method="fail"\} 2\n/)
  t.match(text, /switchboard_errors_total\{service="echo",method="echo",code="INVALID_ARGUMENT"\} 1\n/)
  t.match(text, /switchboard_errors_total\{service="echo",method="fail",code="OUT_OF_STOCK"\} 1\n/)
  t.match(text, /switchboard_errors_total\{service="echo",method="fail",code="NOT_FOUND"\} 1\n/)
  t.match(text, /switchboard_request_duration_seconds_count\{service="echo",method="echo"\} 5\n/)
  t.match(text, /switchboard_request_duration_seconds_bucket\{le="\+Inf",service="echo",method="echo"\} 5\n/)
  t.equal((await fetch(w.metricsUrl!.replace('/metrics', '/other'))).status, 404)
  const url = w.metricsUrl!
  await w.stop()
  await t.rejects(fetch(url), 'the listener is closed by stop()')
})

/** A minimal OpenTelemetry SDK stand-in: a registered TracerProvider that records the spans it starts. */
class RecordedSpan implements Span {
  ended = false
  status: { code: number; message?: string } = { code: 0 }
  readonly attributes: Record<string, unknown> = {}
  constructor(
    readonly name: string,
    readonly kind: number | undefined,
    readonly ctx: SpanContext,
    readonly parentSpanId: string | undefined,
  ) {}
  spanContext = () => this.ctx
  setAttribute = (k: string, v: unknown) => ((this.attributes[k] = v), this)
  setAttributes = (a: Record<string, unknown>) => (Object.assign(this.attributes, a), this)
  addEvent = () => this
  addLink = () => this
  addLinks = () => this
  setStatus = (s: { code: number; message?: string }) => ((this.status = s), this)
  updateName = () => this
  end = () => void (this.ended = true)
  isRecording = () => !this.ended
  recordException = () => undefined
}

function recordingProvider(spans: RecordedSpan[]): TracerProvider {
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('')
  const tracer: Tracer = {
    startSpan(name: string, options?: SpanOptions, ctx?: Context) {
      const parent = ctx === undefined ? undefined : trace.getSpanContext(ctx)
      const s = new RecordedSpan(name, options?.kind, { traceId: parent?.traceId ?? hex(32), spanId: hex(16), traceFlags: 1 }, parent?.spanId)
      s.setAttributes(options?.attributes ?? {})
      spans.push(s)
      return s
    },
    startActiveSpan: (() => {
      throw new Error('unused')
    }) as Tracer['startActiveSpan'],
  }
  return { getTracer: () => tracer }
}

t.test('trace - with an OpenTelemetry SDK registered, client and server calls become linked spans', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const spans: RecordedSpan[] = []
  t.ok(trace.setGlobalTracerProvider(recordingProvider(spans)))
  t.teardown(() => trace.disable())
  const { lines, stream } = capture()
  const w = await startEcho(nc, 'w1', { logger: pinoLogger({ level: 'warn', destination: stream }) })
  t.teardown(() => w.stop())
  const echo = client(nc, Echo, { timeout: 2_000 })
  await echo.deadline({})
  await echo.fail({ kind: 'declared' }).catch((e: unknown) => t.ok(e instanceof RpcError))
  const [c1, s1, c2, s2] = spans
  t.match(c1, { name: 'echo/deadline', kind: 2, ended: true, attributes: { 'rpc.system': 'switchboard', 'rpc.switchboard.status': 'OK' } })
  t.match(s1, { name: 'echo/deadline', kind: 1, ended: true, parentSpanId: c1!.ctx.spanId })
  t.match(c2, { name: 'echo/whoami', kind: 2, parentSpanId: s1!.ctx.spanId })
  t.match(s2, { name: 'echo/whoami', kind: 1, parentSpanId: c2!.ctx.spanId })
  t.equal(new Set(spans.slice(0, 4).map((s) => s.ctx.traceId)).size, 1, 'one trace')
  t.match(c1!.attributes, { 'rpc.service': 'echo', 'rpc.method': 'deadline', 'messaging.system': 'nats' })
  t.equal(c1!.status.code, 0, 'a call that succeeded leaves the status unset')
  t.notOk('error.type' in c1!.attributes)
  const failed = spans.filter((s) => s.name === 'echo/fail')
  t.equal(failed.length, 2)
  const [fc, fs] = failed.sort((a, b) => (b.kind ?? 0) - (a.kind ?? 0))
  t.match(fc, {
    kind: 2,
    ended: true,
    status: { code: 2, message: 'sold out' },
    attributes: { 'rpc.switchboard.status': 'OUT_OF_STOCK', 'error.type': 'OUT_OF_STOCK' },
  })
  t.match(fs, { kind: 1, ended: true, status: { code: 0 }, attributes: { 'rpc.switchboard.status': 'OUT_OF_STOCK' } }, 'a declared error is no server fault')
  t.notOk('error.type' in fs!.attributes)

  spans.length = 0
  await echo.fail({ kind: 'boom' }).catch((e: unknown) => t.match(e, { code: 'INTERNAL' }))
  t.equal(spans.length, 2)
  for (const s of spans)
    t.match(
      s,
      { ended: true, status: { code: 2 }, attributes: { 'rpc.switchboard.status': 'INTERNAL', 'error.type': 'INTERNAL' } },
      'INTERNAL fails both sides',
    )
  t.match(lines.at(-1), { status: 'INTERNAL', trace_id: spans[0]!.ctx.traceId }, 'the log line names the trace')
})

t.test('trace - OTEL_SEMCONV_STABILITY_OPT_IN chooses the RPC conventions; a call target adds messaging and server attributes', async (t) => {
  const spans: RecordedSpan[] = []
  t.ok(trace.setGlobalTracerProvider(recordingProvider(spans)))
  const saved = process.env.OTEL_SEMCONV_STABILITY_OPT_IN
  t.teardown(() => {
    trace.disable()
    if (saved === undefined) delete process.env.OTEL_SEMCONV_STABILITY_OPT_IN
    else process.env.OTEL_SEMCONV_STABILITY_OPT_IN = saved
  })
  const started = (optIn: string | undefined) => {
    if (optIn === undefined) delete process.env.OTEL_SEMCONV_STABILITY_OPT_IN
    else process.env.OTEL_SEMCONV_STABILITY_OPT_IN = optIn
    const span = tracingFor('auto')!.start('client', 'user', 'lookup', undefined, { subject: 'rpc.user.lookup', server: '127.0.0.1:4222' })
    span.end('NOT_FOUND', "no user 'x'")
    return spans.at(-1)!
  }
  const target = { 'messaging.system': 'nats', 'messaging.destination.name': 'rpc.user.lookup', 'server.address': '127.0.0.1', 'server.port': 4222 }
  const old = started(undefined)
  t.match(old, { name: 'user/lookup', attributes: { 'rpc.system': 'switchboard', 'rpc.service': 'user', 'rpc.method': 'lookup', ...target } })
  t.notOk('rpc.system.name' in old.attributes || 'rpc.status_code' in old.attributes, 'by default the v1.37 conventions only')
  const stable = started('http, rpc')
  t.match(stable, {
    name: 'user/lookup',
    attributes: { 'rpc.system.name': 'switchboard', 'rpc.method': 'user/lookup', 'rpc.status_code': 'NOT_FOUND', 'error.type': 'NOT_FOUND', ...target },
  })
  t.notOk('rpc.system' in stable.attributes || 'rpc.service' in stable.attributes, 'rpc: the stable conventions only')
  const dup = started('rpc/dup')
  t.match(dup.attributes, {
    'rpc.system': 'switchboard',
    'rpc.service': 'user',
    'rpc.system.name': 'switchboard',
    'rpc.method': 'user/lookup',
    'rpc.status_code': 'NOT_FOUND',
  })
  tracingFor('auto')!.start('server', 'user', 'lookup', undefined, { subject: 'rpc.user.lookup', server: '[::1]:4222' }).end('OK')
  t.notOk('server.address' in spans.at(-1)!.attributes, 'a server span names no server address (the client knows which it used)')
  tracingFor('auto')!.start('client', 'user', 'lookup', undefined, { server: '[::1]:4222' }).end('OK')
  t.match(spans.at(-1)!.attributes, { 'server.address': '::1', 'server.port': 4222 })
})

t.test('trace - traceparent parsing follows W3C', async (t) => {
  t.same(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'), {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: '00f067aa0ba902b7',
    flags: '01',
  })
  t.equal(parseTraceparent('00-00000000000000000000000000000000-00f067aa0ba902b7-01'), undefined)
  t.equal(parseTraceparent('ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'), undefined)
  t.equal(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra'), undefined)
  t.ok(parseTraceparent('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra'), 'later versions may add fields')
  t.equal(parseTraceparent('garbage'), undefined)
})
