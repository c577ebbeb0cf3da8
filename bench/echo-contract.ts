import Type from 'typebox'
import { defineService } from 'switchboard'

/** The contract every bench serves: one echo method with a small but real schema to validate. */
export const BenchEcho = defineService('bench', {
  version: '1.0.0',
  description: 'benchmark echo',
  methods: {
    echo: {
      input: Type.Object({ seq: Type.Integer({ minimum: 0 }), text: Type.String(), tags: Type.Array(Type.String()) }),
      output: Type.Object({ seq: Type.Integer({ minimum: 0 }), text: Type.String(), tags: Type.Array(Type.String()) }),
      idempotent: true,
    },
    wait: {
      input: Type.Object({ ms: Type.Integer({ minimum: 0 }) }),
      output: Type.Object({ ok: Type.Boolean() }),
    },
    spin: {
      input: Type.Object({ iterations: Type.Integer({ minimum: 0 }) }),
      output: Type.Object({ x: Type.Number() }),
    },
  },
})

/** The input and output of `echo`. */
export interface EchoBody {
  seq: number
  text: string
  tags: string[]
}
