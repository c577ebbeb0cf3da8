import { Writable } from 'node:stream'
import { trace, type Context, type Span, type SpanContext, type SpanOptions, type Tracer, type TracerProvider } from '@opentelemetry/api'
import { Registry } from 'prom-client'
import t from 'tap'
import { client, levelFromEnv, parseTraceparent, pinoLogger, RpcError } from 'switchboard'
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
  const w = await startEcho(nc, 'w1')
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
  const failed = spans.filter((s) => s.name === 'echo/fail')
  t.equal(failed.length, 2)
  for (const s of failed) t.match(s, { ended: true, status: { code: 2, message: /OUT_OF_STOCK/ }, attributes: { 'rpc.switchboard.status': 'OUT_OF_STOCK' } })
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
