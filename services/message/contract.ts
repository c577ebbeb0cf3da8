import Type from 'typebox'
import { defineService } from 'switchboard'
import { Empty, Id, Message, Text, Username } from '../shared/schemas.ts'

const Page = { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })), before: Type.Optional(Type.Number()) }

/** Direct, group and offline messages. Every method is (auth). */
export const MessageService = defineService('message', {
  version: '1.0.0',
  description: 'direct, group and offline messages',
  methods: {
    send: {
      description: 'stores a direct message, then delivers it to every online session of the recipient; the Rpc-Id is the idempotency key',
      input: Type.Object({ to: Username, text: Text }),
      output: Type.Object({ messageId: Id, delivered: Type.Boolean() }),
      errors: { NOT_FOUND: { status: 404 } },
      idempotent: true,
    },
    sendGroup: {
      description: 'members only; stores a group message and fans it out; delivered counts the members reached now',
      input: Type.Object({ groupId: Id, text: Text }),
      output: Type.Object({ messageId: Id, delivered: Type.Integer({ minimum: 0 }) }),
      errors: { PERMISSION_DENIED: { status: 403 }, NOT_FOUND: { status: 404 } },
      idempotent: true,
    },
    offline: { description: 'messages kept for me while I was away, oldest first; fetching them clears them', input: Empty, output: Type.Array(Message) },
    history: {
      description:
        'a conversation, newest first by sentAt: with a user, or of a group I belong to; limit messages, more when several share the oldest sentAt; before (exclusive) pages back: pass the oldest sentAt of a page',
      input: Type.Union([Type.Object({ with: Username, ...Page }), Type.Object({ groupId: Id, ...Page })]),
      output: Type.Array(Message),
      errors: { PERMISSION_DENIED: { status: 403 }, NOT_FOUND: { status: 404 } },
      idempotent: true,
    },
    stats: {
      description: '(role admin) how many messages are stored; used by admin.stats',
      input: Empty,
      output: Type.Object({ messages: Type.Integer({ minimum: 0 }) }),
      errors: { PERMISSION_DENIED: { status: 403 } },
      idempotent: true,
    },
  },
})
