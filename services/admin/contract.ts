import Type from 'typebox'
import { defineService } from 'switchboard'
import { Empty, Text } from '../shared/schemas.ts'

/** Operator actions. Every method is (auth) and needs role admin. */
export const Admin = defineService('admin', {
  version: '1.0.0',
  description: 'broadcasts and numbers',
  methods: {
    broadcast: {
      description: 'sends a text to every online session',
      input: Type.Object({ text: Text }),
      output: Type.Object({ delivered: Type.Integer({ minimum: 0 }) }),
      errors: { PERMISSION_DENIED: { status: 403 } },
    },
    stats: {
      input: Empty,
      output: Type.Object({ users: Type.Integer(), online: Type.Integer(), groups: Type.Integer(), messages: Type.Integer() }),
      errors: { PERMISSION_DENIED: { status: 403 } },
      idempotent: true,
    },
  },
})
