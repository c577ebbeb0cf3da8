import t from 'tap'
import Type from 'typebox'
import {
  compose,
  decodeEnvelope,
  DEFAULT_CLIENT_OPTIONS,
  DEFAULT_WORKER_OPTIONS,
  defineService,
  encodeBody,
  isRpcError,
  isSystemCode,
  resolveClientOptions,
  resolveWorkerOptions,
  RpcError,
  SystemCode,
  systemError,
} from 'switchboard'
import { attemptTimeout, backoff, DEFAULT_RETRY, sleep, validatorsOf } from 'switchboard/internal'

const S = Type.Object({})

t.test('compose - runs middleware in order around the last step', async (t) => {
  const seen: string[] = []
  const mw = (name: string) => async (ctx: { n: number }, next: () => Promise<number>) => {
    seen.push(`>${name}`)
    ctx.n++
    const r = await next()
    seen.push(`<${name}`)
    return r * 10
  }
  const run = compose([mw('a'), mw('b')], async (ctx) => ctx.n)
  t.equal(await run({ n: 0 }), 200)
  t.same(seen, ['>a', '>b', '<b', '<a'])
})

t.test('compose - next() twice rejects, and a throwing middleware rejects', async (t) => {
  const twice = compose<object, number>([async (_, next) => (await next()) + (await next())], async () => 1)
  await t.rejects(twice({}), /more than once/)
  const throws = compose<object, number>(
    [
      () => {
        throw new Error('sync boom')
      },
    ],
    async () => 1,
  )
  await t.rejects(throws({}), /sync boom/)
  const none = async () => 7
  t.equal(compose([], none), none, 'no middleware is the last step itself')
})

t.test('retry - backoff grows, is capped and jittered within its upper half', async (t) => {
  t.equal(backoff(DEFAULT_RETRY, 1), 0)
  t.equal(
    backoff({ attempts: 5, baseDelay: 100, maxDelay: 1_000 }, 2, () => 0),
    50,
  )
  t.equal(
    backoff({ attempts: 5, baseDelay: 100, maxDelay: 1_000 }, 2, () => 1),
    100,
  )
  t.equal(
    backoff({ attempts: 5, baseDelay: 100, maxDelay: 1_000 }, 4, () => 1),
    400,
  )
  t.equal(
    backoff({ attempts: 9, baseDelay: 100, maxDelay: 1_000 }, 9, () => 1),
    1_000,
  )
})

t.test('retry - attempts share what remains of the deadline', async (t) => {
  t.equal(attemptTimeout(900, 3), 300)
  t.equal(attemptTimeout(900, 1), 900)
  t.equal(attemptTimeout(1, 5), 1)
})

t.test('retry - sleep can be cut short by a signal', async (t) => {
  const ac = new AbortController()
  const p = sleep(10_000, ac.signal)
  ac.abort(new Error('stop'))
  await t.rejects(p, /stop/)
  await t.rejects(sleep(5, AbortSignal.abort(new Error('already'))), /already/)
  await sleep(1)
})

t.test('contract - refuses malformed names, versions and error codes', async (t) => {
  const m = { input: S, output: S }
  t.throws(() => defineService('bad name', { version: '1.0.0', methods: {} }), /service name/)
  t.throws(() => defineService('svc', { version: 'one', methods: {} }), /semver/)
  t.throws(() => defineService('svc', { version: '1.0.0', methods: { 'a.b': m } }), /method name/)
  t.throws(
    () => defineService('svc', { version: '1.0.0', methods: { a: { input: S } as never } }),
    /needs an input schema and either an output or a stream schema/,
  )
  t.throws(() => defineService('svc', { version: '1.0.0', methods: { a: { ...m, errors: { lower: { status: 400 } } } } }), /UPPER_SNAKE/)
  t.throws(() => defineService('svc', { version: '1.0.0', methods: { a: { ...m, errors: { OK: { status: 400 } } } } }), /'OK'/)
  t.throws(() => defineService('svc', { version: '1.0.0', methods: { a: { ...m, errors: { GONE: { status: 200 } } } } }), /400 to 599/)
  t.throws(() => defineService('svc', { version: '1.0.0', methods: { a: { ...m, errors: { NOT_FOUND: { status: 410 } } } } }), /keeps its number 404/)
  const c = defineService('svc', { version: '1.2.3-rc.1', methods: { a: { ...m, errors: { NOT_FOUND: { status: 404 } } } } })
  t.equal(c.description, '')
  t.ok(Object.isFrozen(c))
})

t.test('validator - compiled once per method and reused', async (t) => {
  const spec = { input: S, output: S, errors: { X_Y: { status: 409, data: Type.Object({ n: Type.Number() }) }, Z: { status: 410 } } }
  const a = validatorsOf(spec)
  t.equal(validatorsOf(spec), a)
  t.ok(a.errors.get('X_Y')?.Check({ n: 1 }))
  t.equal(a.errors.get('Z'), undefined)
})

t.test('options - resolved from defaults without touching the argument', async (t) => {
  const given = Object.freeze({ timeout: 50, headers: Object.freeze({ a: '1' }), retry: Object.freeze({ attempts: 7 }) })
  const r = resolveClientOptions(given)
  t.equal(r.timeout, 50)
  t.same(r.retry, { ...DEFAULT_RETRY, attempts: 7 })
  t.equal(r.prefix, DEFAULT_CLIENT_OPTIONS.prefix)
  t.same(given, { timeout: 50, headers: { a: '1' }, retry: { attempts: 7 } })
  t.throws(() => resolveClientOptions({ timeout: 0 }), /positive/)
  const w = resolveWorkerOptions({ maxInFlight: 3 })
  t.equal(w.maxInFlight, 3)
  t.equal(w.maxQueued, 2, 'the backlog defaults to half of maxInFlight, rounded up')
  t.equal(resolveWorkerOptions().maxQueued, DEFAULT_WORKER_OPTIONS.maxQueued)
  t.equal(DEFAULT_WORKER_OPTIONS.maxQueued, DEFAULT_WORKER_OPTIONS.maxInFlight / 2)
  t.equal(resolveWorkerOptions({ maxInFlight: 3, maxQueued: 0 }).maxQueued, 0, 'and 0 turns it off')
  t.equal(w.stopTimeout, DEFAULT_WORKER_OPTIONS.stopTimeout)
  t.throws(() => resolveWorkerOptions({ maxInFlight: 0 }), /maxInFlight/)
})

t.test('codes - the closed table and RpcError', async (t) => {
  t.equal(Object.keys(SystemCode).length, 12)
  t.ok(isSystemCode('UNAVAILABLE'))
  t.notOk(isSystemCode('toString'))
  const e = systemError('NOT_FOUND', 'gone', { id: 1 }, new Error('root'))
  t.equal(e.status, 404)
  t.same(e.toJSON(), { status: 'NOT_FOUND', message: 'gone', data: { id: 1 } })
  t.same(new RpcError('CUSTOM_X', 'm').toJSON(), { status: 'CUSTOM_X', message: 'm' })
  t.equal(new RpcError('CUSTOM_X', 'm').status, 500)
  t.match((e.cause as Error).message, 'root')
  t.notOk(isRpcError(new Error('x')))
  const c = defineService('svc', { version: '1.0.0', methods: { a: { input: S, output: S, errors: { MINE: { status: 409 } } } } })
  t.ok(isRpcError(new RpcError('MINE', 'm'), c, 'a'))
  t.notOk(isRpcError(new RpcError('THEIRS', 'm'), c, 'a'))
})

t.test('codec - envelopes are checked for shape', async (t) => {
  t.same(decodeEnvelope(encodeBody({ status: 'OK', result: 1 })), { status: 'OK', result: 1 })
  t.same(decodeEnvelope(encodeBody({ status: 'NOT_FOUND', message: 'x' })), { status: 'NOT_FOUND', message: 'x' })
  t.equal(decodeEnvelope(encodeBody({ status: 'NOT_FOUND' })), undefined)
  t.equal(decodeEnvelope(encodeBody('OK')), undefined)
  t.equal(decodeEnvelope(encodeBody(null)), undefined)
  t.equal(decodeEnvelope(new Uint8Array([0xc1])), undefined)
  t.equal(encodeBody(undefined).length, 0)
})

t.test('codec - a body may nest MAX_DEPTH levels, one more is refused, on the fast path and on the fallback', async (t) => {
  const { decodeBody, MAX_DEPTH } = await import('switchboard/internal')
  const nest = (levels: number, leaf: unknown) => {
    let v: unknown = leaf
    for (let i = 0; i < levels; i++) v = [v]
    return v
  }
  // the fast path reads plain bodies; a timestamp anywhere sends the whole body to msgpack's own decoder
  const bodies = { 'fast path': (levels: number) => nest(levels, 'x'), fallback: (levels: number) => ({ at: new Date(0), deep: nest(levels - 1, 'x') }) }
  for (const [kind, body] of Object.entries(bodies)) {
    t.same(decodeBody(encodeBody(body(MAX_DEPTH))), body(MAX_DEPTH), `${kind}: ${MAX_DEPTH} levels`)
    t.throws(() => decodeBody(encodeBody(body(MAX_DEPTH + 1))), { name: 'RangeError', message: /deeper than 64/ }, `${kind}: one more`)
  }
})

t.test('codec - a body with an unknown msgpack extension is refused; a timestamp reads as a Date', async (t) => {
  const { decodeBody } = await import('switchboard/internal')
  const { encode, ExtData } = await import('@msgpack/msgpack')
  // the fuzzer's random bytes d4 db 45: a fixext1 of type -37, which msgpack hands over as an object
  t.throws(() => decodeBody(Uint8Array.from([0xd4, 0xdb, 0x45])), { name: 'RangeError', message: /extension type -37 is not supported/ })
  t.throws(() => decodeBody(encode({ list: [1, { x: new ExtData(5, Uint8Array.of(1)) }] })), /extension type 5 is not supported/, 'nested')
  t.same(decodeBody(encode({ at: new Date(1_700_000_000_000) })), { at: new Date(1_700_000_000_000) })
})

t.test('codec - an OK reply is read from its constant prefix; anything else falls back to the whole envelope', async (t) => {
  const { decodeOkResult, NOT_OK, encodeOk, encodeFailure } = await import('switchboard/internal')
  const { Encoder } = await import('@msgpack/msgpack')
  t.same(decodeOkResult(encodeOk({ a: [1, 'x'] })), { a: [1, 'x'] }, 'our own OK envelope')
  t.equal(decodeOkResult(encodeOk(null)), null, 'a null result is a result')
  t.equal(decodeOkResult(encodeOk(undefined)), NOT_OK, 'no result: the envelope path')
  t.equal(decodeOkResult(encodeFailure('NOT_FOUND', 'gone')), NOT_OK, 'an error envelope')
  t.equal(decodeOkResult(new Encoder().encode({ result: 1, status: 'OK' })), NOT_OK, 'another key order')
  const ok = encodeOk({ a: 1 })
  t.equal(decodeOkResult(ok.subarray(0, ok.length - 1)), NOT_OK, 'a truncated result')
  t.equal(decodeOkResult(Buffer.concat([ok, Buffer.from([0xc0])])), NOT_OK, 'trailing bytes')
})
