import { connect } from '@nats-io/transport-node'
import Type from 'typebox'
import { client, defineService, isRpcError, serve } from 'switchboard'

// 1. The contract: plain data, importable by any caller.
const Greeter = defineService('greeter', {
  version: '1.0.0',
  description: 'says hello',
  methods: {
    hello: {
      input: Type.Object({ name: Type.String({ minLength: 1, maxLength: 40 }) }),
      output: Type.Object({ text: Type.String() }),
      errors: { BLOCKED: { status: 403, data: Type.Object({ until: Type.Number() }) } },
      idempotent: true,
    },
  },
})

const nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' })

// 2. A worker: handlers are type-checked against the contract.
const worker = await serve(nc, Greeter, {
  hello({ name }, ctx) {
    if (name === 'mallory') throw ctx.error('BLOCKED', 'not you', { until: Date.now() + 60_000 })
    return { text: `hello, ${name}` }
  },
})

// 3. A typed client: input and output inferred from the contract, no code generation.
const greeter = client(nc, Greeter, { timeout: 2_000 })
console.log((await greeter.hello({ name: 'world' })).text) // hello, world
try {
  await greeter.hello({ name: 'mallory' })
} catch (err) {
  if (isRpcError(err, Greeter, 'hello') && err.code === 'BLOCKED') console.log(err.code, err.data.until > 0) // BLOCKED true
}

await worker.stop()
await nc.drain()
