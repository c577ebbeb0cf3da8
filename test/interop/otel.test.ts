/**
 * OpenTelemetry across real processes: a nats-server, the user and message modules as worker processes and a gateway
 * process, each with the OpenTelemetry trace SDK of services/shared/otel-preload.ts writing its finished spans to a
 * file of its own. A `message.send` made on the gateway's WebSocket must be one trace over the three processes, with
 * the RPC semantic conventions of docs/operate.md ("Tracing"): names, kinds, parents, attributes and status.
 * Run: `npx tap --disable-coverage test/interop/otel.test.ts` (not in `npm test`).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { CallError, GatewayConnection } from '../../services/chat-client/connection.ts'
import type { SpanLine } from '../../services/shared/otel-preload.ts'
import { delay, failureOf, serverFor } from '../harness/index.ts'
import { ROOT, startGatewayProcess, startSystem } from '../harness/system.ts'

const SERVER = 1
const CLIENT = 2
const UNSET = 0
const ERROR = 2

const PRELOAD = pathToFileURL(join(ROOT, 'services/shared/otel-preload.ts')).href
/** tsx first: the preload is TypeScript. The harness adds its own `--import tsx` (loaded once). */
const NODE_OPTIONS = `--import=tsx --import=${PRELOAD}`

/** The spans of every process so far. */
function spansIn(files: readonly string[]): SpanLine[] {
  return files.flatMap((f) =>
    existsSync(f)
      ? readFileSync(f, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as SpanLine)
      : [],
  )
}

/** The spans of the files once `done` holds for them (spans are written as they end, a reply may come first). */
async function waitForSpans(files: readonly string[], done: (spans: SpanLine[]) => boolean, ms = 15_000): Promise<SpanLine[]> {
  const until = Date.now() + ms
  for (;;) {
    const spans = spansIn(files)
    if (done(spans)) return spans
    if (Date.now() > until) throw new Error(`spans incomplete after ${ms} ms:\n${spans.map((s) => `${s.resource['service.name']} ${s.name}`).join('\n')}`)
    await delay(50)
  }
}

t.test('otel - a gateway call → message.send → user.lookup is one trace over three processes, by the RPC conventions', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-otel-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = { gateway: join(dir, 'gateway.jsonl'), message: join(dir, 'message.jsonl'), user: join(dir, 'user.jsonl') }
  const files = Object.values(file)

  const server = await serverFor(t)
  const otel = (path: string) => ({ NODE_OPTIONS, SWITCHBOARD_OTEL_FILE: path, OTEL_SEMCONV_STABILITY_OPT_IN: undefined, OTEL_SERVICE_NAME: undefined })
  await Promise.all([
    startSystem(t, { natsUrl: server.url, modules: ['user'], env: otel(file.user) }),
    startSystem(t, { natsUrl: server.url, modules: ['message'], env: otel(file.message) }),
  ])
  const gw = await startGatewayProcess(t, server.url, otel(file.gateway))

  const alice = await GatewayConnection.open(gw.url, { timeout: 15_000 })
  const bob = await GatewayConnection.open(gw.url, { timeout: 15_000 })
  t.teardown(() => Promise.all([alice.close(), bob.close()]))
  for (const [conn, username] of [
    [alice, 'alice'],
    [bob, 'bob'],
  ] as const) {
    await conn.call('user.register', { username, password: `${username}-password` })
    await conn.call('user.login', { username, password: `${username}-password` })
  }
  await alice.call('message.send', { to: 'bob', text: 'traced' })
  const refused = await failureOf(alice.call('message.send', { to: 'nobody', text: 'lost' }), CallError)
  t.equal(refused.code, 'NOT_FOUND', 'a send to an unknown user fails with NOT_FOUND')

  const lookups = (spans: SpanLine[]) => spans.filter((s) => s.name === 'user/lookup' && s.kind === SERVER).length
  const spans = await waitForSpans(files, (s) => lookups(s) >= 2 && s.filter((x) => x.name === 'message/send').length >= 4)
  const service = (s: SpanLine) => s.resource['service.name']

  t.test('otel - every process exported its spans, named after its service', async (t) => {
    t.same(new Set(spans.map(service)), new Set(['gateway', 'message', 'user']))
    for (const [name, path] of Object.entries(file))
      t.ok(
        spansIn([path]).every((s) => service(s) === name),
        `${path} holds ${name}'s spans`,
      )
    t.ok(
      spans.every((s) => s.scope === 'switchboard'),
      'made by the switchboard tracer',
    )
  })

  /** The spans of the send whose gateway client span ended with `status`, from the root down. */
  const pathOf = (status: string) => {
    const root = spans.find((s) => service(s) === 'gateway' && s.name === 'message/send' && s.attributes['rpc.switchboard.status'] === status)
    if (root === undefined) throw new Error(`no gateway span of message/send with status ${status}`)
    const inTrace = spans.filter((s) => s.traceId === root.traceId)
    const child = (parent: SpanLine, name: string, kind: number, where: string) => {
      const c = inTrace.find((s) => s.parentSpanId === parent.spanId && s.name === name && s.kind === kind && service(s) === where)
      if (c === undefined) throw new Error(`no ${where} span ${name} under ${parent.name}: ${JSON.stringify(inTrace, null, 1)}`)
      return c
    }
    const server = child(root, 'message/send', SERVER, 'message')
    const lookup = child(server, 'user/lookup', CLIENT, 'message')
    const handled = child(lookup, 'user/lookup', SERVER, 'user')
    return { root, server, lookup, handled, inTrace }
  }

  t.test('otel - a successful send: CLIENT → SERVER → CLIENT → SERVER in one trace, status unset', async (t) => {
    const { root, server, lookup, handled, inTrace } = pathOf('OK')
    t.equal(root.kind, CLIENT, "the gateway's span is a client span")
    t.equal(root.parentSpanId, undefined, 'and the root of the trace')
    t.equal(new Set([root, server, lookup, handled].map((s) => s.traceId)).size, 1, 'one trace id over three processes')
    t.ok(
      inTrace.every((s) => s.startMs >= root.startMs - 5 && s.endMs <= root.endMs + 50),
      'every span of the trace lies within the root (clock of one machine)',
    )
    for (const [s, svc, method] of [
      [root, 'message', 'send'],
      [server, 'message', 'send'],
      [lookup, 'user', 'lookup'],
      [handled, 'user', 'lookup'],
    ] as const) {
      t.match(s.attributes, {
        'rpc.system': 'switchboard',
        'rpc.service': svc,
        'rpc.method': method,
        'messaging.system': 'nats',
        'messaging.destination.name': `rpc.${svc}.${method}`,
        'rpc.switchboard.status': 'OK',
      })
      if (s.kind === CLIENT) t.match(s.attributes, { 'server.address': '127.0.0.1', 'server.port': Number }, 'a client span names the NATS server it used')
      else t.notOk('server.address' in s.attributes, 'a server span does not')
      t.equal(s.status.code, UNSET, `${service(s)} ${s.name}: status unset when the call succeeded`)
      t.notOk('error.type' in s.attributes, 'no error.type')
      t.notOk('rpc.system.name' in s.attributes, 'the stable conventions only on opt-in (OTEL_SEMCONV_STABILITY_OPT_IN=rpc)')
    }
  })

  t.test('otel - a refused send: ERROR with error.type on the client spans, the servers answered as their contract says', async (t) => {
    const { root, server, lookup, handled } = pathOf('NOT_FOUND')
    t.equal(new Set([root, server, lookup, handled].map((s) => s.traceId)).size, 1, 'the failed call is one trace too')
    for (const s of [root, lookup]) {
      t.equal(s.status.code, ERROR, `${service(s)} ${s.name} (client): status ERROR`)
      t.match(s.status.message, /nobody/, 'the description is the error message')
      t.notMatch(s.status.message, /NOT_FOUND/, 'which does not repeat the code')
      t.match(s.attributes, { 'error.type': 'NOT_FOUND', 'rpc.switchboard.status': 'NOT_FOUND' })
    }
    for (const s of [server, handled]) {
      t.equal(s.status.code, UNSET, `${service(s)} ${s.name} (server): a NOT_FOUND is not a server fault, status unset`)
      t.match(s.attributes, { 'rpc.switchboard.status': 'NOT_FOUND' })
      t.notOk('error.type' in s.attributes, 'no error.type on the server span')
    }
  })
})
