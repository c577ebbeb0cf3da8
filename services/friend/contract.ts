import Type from 'typebox'
import { defineService } from 'switchboard'
import { Empty, Profile, Username } from '../shared/schemas.ts'

/** Friend lists. Every method is (auth). */
export const Friend = defineService('friend', {
  version: '1.1.0',
  description: 'friend lists',
  methods: {
    add: {
      description: 'adds a friend (both ways)',
      input: Type.Object({ username: Username }),
      output: Empty,
      errors: { NOT_FOUND: { status: 404 }, ALREADY_EXISTS: { status: 409 } },
    },
    remove: {
      description: 'removes a friend (both ways)',
      input: Type.Object({ username: Username }),
      output: Empty,
      errors: { NOT_FOUND: { status: 404 } },
    },
    list: {
      description: 'my friends with their presence and my unread count with each (absent when the message module cannot say now)',
      input: Empty,
      output: Type.Array(Type.Object({ ...Profile.properties, unread: Type.Optional(Type.Integer({ minimum: 0 })) })),
      idempotent: true,
    },
  },
})
