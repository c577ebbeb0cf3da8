import Type from 'typebox'
import { defineService } from 'switchboard'
import { Conversation, Empty, Id, Message, Position, Text, Username } from '../shared/schemas.ts'

const Page = { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })), before: Type.Optional(Type.Number()) }
const Sent = { messageId: Id, pos: Position }
const Target = Type.Union([Type.Object({ to: Username }), Type.Object({ groupId: Id })])
const NotYours = { PERMISSION_DENIED: { status: 403 }, NOT_FOUND: { status: 404 }, FAILED_PRECONDITION: { status: 412, description: 'past the edit window' } }

/**
 * Direct and group messages, each with a position in every recipient's feed (docs/delivery.md). Every method is
 * (auth). The Rpc-Id of a send is its idempotency key.
 */
export const MessageService = defineService('message', {
  version: '1.1.0',
  description: 'direct and group messages, the per-user feed, read state, typing, edits',
  methods: {
    send: {
      description:
        'stores a direct message (its position in the feed is pos), then every session of both users gets it; delivered: the recipient had an online session; the Rpc-Id is the idempotency key',
      input: Type.Object({ to: Username, text: Text }),
      output: Type.Object({ ...Sent, delivered: Type.Boolean() }),
      errors: { NOT_FOUND: { status: 404 } },
      idempotent: true,
    },
    sendGroup: {
      description: 'members only; stores a group message for every member; delivered counts the other members online now',
      input: Type.Object({ groupId: Id, text: Text }),
      output: Type.Object({ ...Sent, delivered: Type.Integer({ minimum: 0 }) }),
      errors: { PERMISSION_DENIED: { status: 403 }, NOT_FOUND: { status: 404 } },
      idempotent: true,
    },
    sync: {
      description:
        'my feed after position after (from the start of the retained feed when absent), oldest first, at most limit entries (edits and deletes included); pos is where to resume next time; more: call again from pos',
      input: Type.Object({ after: Type.Optional(Position), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })) }),
      output: Type.Object({ messages: Type.Array(Message), pos: Position, more: Type.Boolean() }),
      errors: { OUT_OF_RANGE: { status: 410, description: 'after is older than the retained feed: reload from history' } },
      idempotent: true,
    },
    offline: {
      description: 'messages of my feed that none of my sessions was sent, oldest first (at most 500); fetching them marks them taken',
      input: Empty,
      output: Type.Array(Message),
    },
    seen: {
      description:
        'a session was sent my feed from position from (exclusive) to pos (the gateway says so when a session ends): offline skips it, unless what lies before from is still to be taken',
      input: Type.Object({ from: Type.Optional(Position), pos: Position }),
      output: Empty,
      idempotent: true,
    },
    history: {
      description:
        'a conversation, newest first by sentAt: with a user, or of a group I belong to; limit messages, more when several share the oldest sentAt; before (exclusive) pages back: pass the oldest sentAt of a page; edits applied, deleted messages without text',
      input: Type.Union([Type.Object({ with: Username, ...Page }), Type.Object({ groupId: Id, ...Page })]),
      output: Type.Array(Message),
      errors: { PERMISSION_DENIED: { status: 403 }, NOT_FOUND: { status: 404 } },
      idempotent: true,
    },
    read: {
      description:
        'stores my read position in a conversation (@username or #groupId); an older position never moves it back; my other sessions get a read event',
      input: Type.Object({ conversation: Conversation, pos: Position }),
      output: Type.Object({ pos: Position }),
      errors: { NOT_FOUND: { status: 404 }, PERMISSION_DENIED: { status: 403 } },
      idempotent: true,
    },
    unread: {
      description: 'internal: my unread count in each conversation (messages of others after my read position; 100 means 100 or more)',
      input: Type.Object({ conversations: Type.Array(Conversation, { maxItems: 500 }) }),
      output: Type.Array(Type.Object({ conversation: Conversation, unread: Type.Integer({ minimum: 0 }) })),
      idempotent: true,
    },
    typing: {
      description: "tells the other party's (or the group's) online sessions that I am typing; never stored; at most one event per conversation per second",
      input: Target,
      output: Empty,
      errors: { PERMISSION_DENIED: { status: 403 }, NOT_FOUND: { status: 404 } },
    },
    edit: {
      description: 'replaces the text of one of my messages, within the edit window; online sessions get an edited event; history and sync show the new text',
      input: Type.Object({ messageId: Id, text: Text }),
      output: Type.Object(Sent),
      errors: NotYours,
    },
    delete: {
      description: 'deletes one of my messages, within the edit window: it keeps its position with no text; online sessions get a deleted event',
      input: Type.Object({ messageId: Id }),
      output: Type.Object(Sent),
      errors: NotYours,
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
