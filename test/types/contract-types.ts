// Type-level tests: compiled by `tsc --noEmit` (part of `npm test`), never run.
// Each @ts-expect-error fails the build if the line below it stops being an error.
import type { NatsConnection } from '@nats-io/nats-core'
import { client, isRpcError, serve, type Handlers } from 'switchboard'
import { Echo } from '../fixtures/echo-contract.ts'

declare const nc: NatsConnection
const echo = client(nc, Echo)

export async function callerSide(): Promise<void> {
  const out = await echo.echo({ text: 'hi' })
  const text: string = out.text
  void text

  // @ts-expect-error a typo in a method name
  await echo.ecoh({ text: 'hi' })
  // @ts-expect-error a wrong input type
  await echo.echo({ text: 42 })
  // @ts-expect-error a missing required field
  await echo.slow({})
  // @ts-expect-error the output is typed: no such field
  void out.nope

  try {
    await echo.fail({ kind: 'declared' })
  } catch (err) {
    if (isRpcError(err, Echo, 'fail')) {
      if (err.code === 'OUT_OF_STOCK') {
        const left: number = err.data.left
        void left
        // @ts-expect-error data is typed per declared code
        void err.data.nope
      }
      // @ts-expect-error codes are the system codes and the declared ones only
      if (err.code === 'TYPO_CODE') void 0
    }
  }
}

export const goodHandlers: Handlers<typeof Echo> = {
  echo: ({ text, nested }) => ({ text, nested, worker: 'w' }),
  slow: async () => ({ aborted: false }),
  fail: (_, ctx) => {
    throw ctx.error('OUT_OF_STOCK', 'sold out', { sku: 'x', left: 1 })
  },
  deadline: () => ({ deadline: 0, nested: 0, id: '', nestedId: '' }),
  whoami: (_, ctx) => ({ deadline: ctx.deadline, id: ctx.id }),
  big: () => ({ blob: '' }),
}

export function handlerSide(): void {
  void serve(nc, Echo, {
    ...goodHandlers,
    // @ts-expect-error a wrong handler return type
    echo: () => ({ text: 1, worker: 'w' }),
  })
  void serve(nc, Echo, {
    ...goodHandlers,
    fail: (_, ctx) => {
      // @ts-expect-error declared data must match its schema
      throw ctx.error('OUT_OF_STOCK', 'sold out', { sku: 1, left: 1 })
    },
  })
  void serve(nc, Echo, {
    ...goodHandlers,
    fail: (_, ctx) => {
      // @ts-expect-error a code the method does not declare
      throw ctx.error('MADE_UP', 'x')
    },
  })
  // @ts-expect-error a missing handler
  void serve(nc, Echo, { echo: goodHandlers.echo })
}
