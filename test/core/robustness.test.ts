import { connect as tcpConnect } from 'node:net'
import t from 'tap'
import Type from 'typebox'
import { client, decodeEnvelope, defineService, resolveClientOptions, RpcError, serve, type WorkerMiddleware } from 'switchboard'
import { connectFor, delay, failureOf, serverFor } from '../harness/index.ts'
import { Echo } from '../fixtures/echo-contract.ts'
import { echoHandlers, startEcho } from '../fixtures/echo-worker.ts'

const Odd = defineService('odd', {
  version: '1.0.0',
  methods: {
    bigData: { input: Type.Object({}), output: Type.Object({}) },
    stubborn: { input: Type.Object({ ms: Type.Integer() }), output: Type.Object({}) },
    shaped: { input: Type.Object({}), output: Type.Object({ n: Type.Number() }) },
  },
})

/** Sends one raw HPUB with the given header block and returns the raw reply text (or '' on timeout). */
function rawRequest(port: number, subject: string, headerLines: string[]): Promise<string> {
  return new Promise((resolve) => {
    const sock = tcpConnect({ host: '127.0.0.1', port })
    let buf = ''
    const hdr = `NATS/1.0\r\n${headerLines.map((l) => `${l}\r\n`).join('')}\r\n`
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1')
      if (buf.includes('INFO ') && !buf.includes('+SENT')) {
        buf += '+SENT'
        sock.write('CONNECT {"verbose":false,"headers":true,"no_responders":true}\r\nSUB raw.reply 1\r\n')
        sock.write(`HPUB ${subject} raw.reply ${Buffer.byteLength(hdr)} ${Buffer.byteLength(hdr)}\r\n${hdr}\r\n`)
      }
      if (buf.includes('HMSG raw.reply') || buf.includes('MSG raw.reply')) setTimeout(() => done(), 20)
    })
    const done = () => {
      sock.destroy()
      resolve(buf)
    }
    setTimeout(done, 1_500)
  })
}

t.test('worker - a request with a malformed header name never stops a full worker from serving', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const worker = await startEcho(nc, 'w', { maxInFlight: 1, maxQueued: 0 })
  t.teardown(() => worker.stop())
  const echo = client(nc, Echo, { timeout: 3_000 })
  const busy = echo.slow({ ms: 300 })
  await delay(50)
  const reply = await rawRequest(server.port, 'rpc.echo.whoami', ['Rpc Id: bad name', 'Ünï: x'])
  t.match(reply, /RESOURCE_EXHAUSTED/, 'the full worker still answered')
  await busy
  t.same(await echo.echo({ text: 'alive' }), { text: 'alive', worker: 'w' }, 'and keeps serving')
  const notFull = await rawRequest(server.port, 'rpc.echo.whoami', ['Rpc Id: bad name'])
  t.match(notFull, /HMSG raw\.reply/, 'a malformed header on a normal call is answered too')
})

t.test('worker - error data that cannot be encoded, a stubborn handler and class handlers', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  class Handlers {
    factor = 2
    bigData(): never {
      throw new RpcError('NOT_FOUND', 'gone', { status: 418, data: { id: 1n } })
    }
    async stubborn({ ms }: { ms: number }): Promise<object> {
      await delay(ms)
      return {}
    }
    shaped(): { n: number } {
      return { n: this.factor }
    }
  }
  const worker = await serve(nc, Odd, new Handlers(), { stopTimeout: 100, logger: { debug() {}, info() {}, warn() {}, error() {} } })
  const odd = client(nc, Odd, { timeout: 5_000 })
  const err = await failureOf(odd.bigData({}))
  t.equal(err.code, 'NOT_FOUND')
  t.equal(err.status, 404, 'a system code keeps its own number')
  t.equal(err.data, undefined, 'data that cannot be encoded is left out, not the reply')
  t.same(await odd.shaped({}), { n: 2 }, 'handlers on a class instance keep `this`')
  t.equal(worker.inFlight, 0)
  const stubborn = odd.stubborn({ ms: 2_000 }).then(
    () => 'OK',
    (e: RpcError) => e.code,
  )
  await delay(50)
  const started = Date.now()
  await worker.stop()
  t.ok(Date.now() - started < 1_500, 'stop() gives up on a handler that ignores its signal')
  t.equal(await stubborn, 'OK', 'while the connection is open, a late finish is still answered')
})

t.test('worker - middleware cannot send a result that breaks the contract', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const rewrite: WorkerMiddleware = async function rewrite(_ctx, next) {
    await next()
    return { n: 'not a number' }
  }
  const worker = await serve(
    nc,
    Odd,
    { bigData: () => ({}), stubborn: () => ({}), shaped: () => ({ n: 1 }) },
    { middleware: [rewrite], logger: { debug() {}, info() {}, warn() {}, error() {} } },
  )
  t.teardown(() => worker.stop())
  const err = await failureOf(client(nc, Odd).shaped({}))
  t.equal(err.code, 'INTERNAL')
})

t.test('client - timeouts must be finite; a deadline weeks away works', async (t) => {
  t.throws(() => resolveClientOptions({ timeout: Infinity }), /finite/)
  t.throws(() => resolveClientOptions({ retry: { attempts: 0 } }), /attempts/)
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const worker = await serve(nc, Echo, echoHandlers('far'))
  t.teardown(() => worker.stop())
  const echo = client(nc, Echo)
  t.equal((await failureOf(echo.echo({ text: 'x' }, { timeout: Number.NaN }))).code, 'INVALID_ARGUMENT')
  t.same(await echo.slow({ ms: 20 }, { timeout: 40 * 24 * 3600 * 1000 }), { aborted: false }, 'no timer overflow firing the signal at once')
})

t.test('contract - method names that would make a client thenable are refused', async (t) => {
  // biome-ignore lint/suspicious/noThenProperty: a method named `then` is what must be refused
  t.throws(() => defineService('x', { version: '1.0.0', methods: { then: { input: Type.Object({}), output: Type.Object({}) } } }), /reserved/)
  t.ok(decodeEnvelope(new Uint8Array([0x80])) === undefined)
})
