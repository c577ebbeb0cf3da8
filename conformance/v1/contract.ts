import Type from 'typebox'
import { defineService } from 'switchboard'

/**
 * The conformance contract of wire protocol v1: the service every implementation serves (or calls) to run the
 * vectors in this directory. Each method provokes a few rules of docs/protocol.md; a worker in another language
 * implements the same behaviour, described on each method (contract.json holds the same schemas as data).
 */
export const Conformance = defineService('conformance', {
  version: '1.0.0',
  description: 'wire protocol v1 conformance service',
  methods: {
    echo: {
      description: 'returns text, n and nested as received (other input fields are dropped)',
      input: Type.Object({
        text: Type.String({ maxLength: 64 }),
        n: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
        nested: Type.Optional(Type.Unknown()),
      }),
      output: Type.Object({
        text: Type.String(),
        n: Type.Optional(Type.Integer()),
        nested: Type.Optional(Type.Unknown()),
      }),
      idempotent: true,
    },
    nothing: {
      description: 'takes no value (the empty body) and returns none (an OK envelope without result)',
      input: Type.Undefined(),
      output: Type.Undefined(),
    },
    fail: {
      description:
        "kind 'ok': returns { done: true }; 'throw': throws the RpcError { code, message, data } of the input (the worker maps it); " +
        "'crash': throws a plain error whose message is the input's (never sent); 'bad-output': returns { done: 'no' }, which fails the output schema",
      input: Type.Object({
        kind: Type.Union([Type.Literal('ok'), Type.Literal('throw'), Type.Literal('crash'), Type.Literal('bad-output')]),
        code: Type.Optional(Type.String()),
        message: Type.Optional(Type.String()),
        data: Type.Optional(Type.Unknown()),
      }),
      output: Type.Object({ done: Type.Boolean() }),
      errors: {
        OUT_OF_STOCK: { status: 409, data: Type.Object({ sku: Type.String(), left: Type.Integer({ minimum: 0 }) }), description: 'declared, with data' },
        GONE: { status: 410, description: 'declared, without data' },
        FAILED_PRECONDITION: { status: 412, data: Type.Object({ version: Type.Integer() }), description: 'a system code declared to attach data' },
      },
    },
    slow: {
      description: 'sleeps ms milliseconds, then returns { slept: ms }',
      input: Type.Object({ ms: Type.Integer({ minimum: 0, maximum: 5000 }) }),
      output: Type.Object({ slept: Type.Integer() }),
    },
    ids: {
      description:
        'returns what the call saw: its Rpc-Id (id), its deadline in epoch ms (deadline, absent without one) and the traceparent, ' +
        'tracestate and Authorization headers (absent when not sent); with nested: true, also what one nested ids call made while ' +
        'handling it saw (nested)',
      input: Type.Object({ nested: Type.Optional(Type.Boolean()) }),
      output: Type.Object({
        id: Type.String(),
        deadline: Type.Optional(Type.Integer()),
        traceparent: Type.Optional(Type.String()),
        tracestate: Type.Optional(Type.String()),
        authorization: Type.Optional(Type.String()),
        nested: Type.Optional(
          Type.Object({
            id: Type.String(),
            deadline: Type.Optional(Type.Integer()),
            traceparent: Type.Optional(Type.String()),
            tracestate: Type.Optional(Type.String()),
            authorization: Type.Optional(Type.String()),
          }),
        ),
      }),
    },
    big: {
      description: "returns { blob } with a string of bytes 'x' characters (to go over the server's max_payload)",
      input: Type.Object({ bytes: Type.Integer({ minimum: 0, maximum: 8_388_608 }) }),
      output: Type.Object({ blob: Type.String() }),
    },
  },
})
