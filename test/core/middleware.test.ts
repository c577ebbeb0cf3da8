import t from 'tap'
import Type from 'typebox'
import { client, defineService, RpcError, serve, type ClientMiddleware, type WorkerMiddleware } from 'switchboard'
import { connectFor, serverFor } from '../harness/index.ts'

const Greeter = defineService('greeter', {
  version: '1.0.0',
  methods: {
    greet: { input: Type.Object({ name: Type.String() }), output: Type.Object({ text: Type.String(), by: Type.String() }) },
  },
})

t.test('middleware - runs on both sides, in order, around the handler', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const order: string[] = []
  const auth: WorkerMiddleware<{ who?: string }> = async function auth(ctx, next) {
    order.push('worker:auth')
    const token = ctx.headers.Authorization
    if (token !== 'Bearer good') throw new RpcError('UNAUTHENTICATED', 'no entry')
    ctx.state.who = 'alice'
    return next()
  }
  const timing: WorkerMiddleware<{ who?: string }> = async function timing(_ctx, next) {
    order.push('worker:timing>')
    const out = await next()
    order.push('worker:timing<')
    return out
  }
  const worker = await serve(
    nc,
    Greeter,
    {
      greet: ({ name }, ctx) => {
        order.push('handler')
        return { text: `hello ${name}`, by: ctx.state.who ?? '?' }
      },
    },
    { middleware: [timing, auth] },
  )
  t.teardown(() => worker.stop())
  const signIn: ClientMiddleware = async function signIn(ctx, next) {
    order.push('client:signIn')
    ctx.headers.Authorization = 'Bearer good'
    ctx.input = { name: String((ctx.input as { name: string }).name).toUpperCase() }
    return next()
  }
  const greeter = client(nc, Greeter, { middleware: [signIn] })
  t.same(await greeter.greet({ name: 'bob' }), { text: 'hello BOB', by: 'alice' })
  t.same(order, ['client:signIn', 'worker:timing>', 'worker:auth', 'handler', 'worker:timing<'])

  const plain = client(nc, Greeter)
  await t.rejects(plain.greet({ name: 'eve' }), { code: 'UNAUTHENTICATED', message: 'no entry' })
})

t.test('client - call-site stack traces are opt-in', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const withStack = client(nc, Greeter, { captureStack: true })
  const without = client(nc, Greeter)
  const a = (await withStack.greet({ name: 'x' }).catch((e: Error) => e)) as Error
  const b = (await without.greet({ name: 'x' }).catch((e: Error) => e)) as Error
  t.match(a, { code: 'UNAVAILABLE' })
  t.match(a.stack, /called from[\s\S]*middleware\.test\.ts/)
  t.notMatch(b.stack ?? '', /called from/)
  await t.rejects(without.$call('nope', {}), { code: 'UNIMPLEMENTED' })
})
