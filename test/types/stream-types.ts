// Type-level tests of stream methods: compiled by `tsc --noEmit` (part of `npm test`), never run.
// Each @ts-expect-error fails the build if the line below it stops being an error.
import type { NatsConnection } from '@nats-io/nats-core'
import Type from 'typebox'
import { client, defineService, isRpcError, serve, type Handlers, type ItemOf, type RpcStream } from 'switchboard'
import { Feed } from '../fixtures/stream-contract.ts'

declare const nc: NatsConnection
const feed = client(nc, Feed)

export async function callerSide(): Promise<void> {
  // the iterator's item type comes from the contract's `stream` schema
  for await (const item of feed.count({ n: 3 })) {
    const i: number = item.i
    void i
    // @ts-expect-error items are typed: no such field
    void item.nope
  }
  const s: RpcStream<{ i: number }> = feed.count({ n: 1 }, { timeout: 1_000, signal: AbortSignal.timeout(500) })
  s.cancel()
  const typed: ItemOf<typeof Feed, 'big'> = { blob: 'x' }
  void typed

  // @ts-expect-error a wrong input type
  feed.count({ n: 'three' })
  // @ts-expect-error a stream method returns no promise of an output
  const out: Promise<unknown> = feed.count({ n: 1 })
  void out
  // @ts-expect-error a unary method is not iterable
  for await (const x of feed.echo({ text: 'x' })) void x
  const echoed: { text: string } = await feed.echo({ text: 'x' })
  void echoed

  try {
    for await (const _ of feed.fail({ after: 1, kind: 'declared' })) void _
  } catch (err) {
    if (isRpcError(err, Feed, 'fail') && err.code === 'OUT_OF_STOCK') {
      const left: number = err.data.left
      void left
    }
  }
}

export const goodHandlers: Handlers<typeof Feed> = {
  async *count({ n }, ctx) {
    for (let i = 1; i <= n && !ctx.signal.aborted; i++) yield { i }
  },
  async *fail(_, ctx) {
    yield { i: 1 }
    throw ctx.error('OUT_OF_STOCK', 'sold out', { sku: 'x', left: 0 })
  },
  // a plain iterable does too
  big: () => [{ blob: 'a' }, { blob: 'b' }],
  echo: ({ text }) => ({ text }),
}

export function handlerSide(): void {
  void serve(nc, Feed, {
    ...goodHandlers,
    // @ts-expect-error a generator yielding the wrong shape
    async *count() {
      yield { i: 'one' }
    },
  })
  void serve(nc, Feed, {
    ...goodHandlers,
    // @ts-expect-error a stream handler must return items, not one output
    count: () => ({ i: 1 }),
  })
  void serve(nc, Feed, {
    ...goodHandlers,
    async *fail(_, ctx) {
      yield { i: 1 }
      // @ts-expect-error declared data must match its schema, in streams too
      throw ctx.error('OUT_OF_STOCK', 'sold out', { sku: 1, left: 0 })
    },
  })
  void serve(nc, Feed, {
    ...goodHandlers,
    // @ts-expect-error a unary handler cannot answer with a stream
    async *echo() {
      yield { text: 'x' }
    },
  })
}

export function contractSide(): void {
  defineService('s', {
    version: '1.0.0',
    methods: {
      // @ts-expect-error a method needs an output or a stream schema
      neither: { input: Type.Object({}) },
    },
  })
}
