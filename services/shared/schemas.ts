import Type from 'typebox'

/** Lower-case letters, digits and underscore, 3 to 32 characters. */
export const Username = Type.String({ pattern: '^[a-z0-9_]{3,32}$', description: 'a-z, 0-9 and _, 3 to 32 characters' })
export const Password = Type.String({ minLength: 8, maxLength: 256 })
/** Opaque ids made by the modules. */
export const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' })
/** A message text: stored and returned as given, 1 to 4000 characters. */
export const Text = Type.String({ minLength: 1, maxLength: 4000 })
/** A group name: 1 to 64 characters, no control characters. */
export const GroupName = Type.String({ minLength: 1, maxLength: 64, pattern: '^[^\\u0000-\\u001f\\u007f]+$' })
export const Role = Type.Union([Type.Literal('user'), Type.Literal('admin')])
export const Empty = Type.Object({}, { additionalProperties: false })

/** A user as other users see them. */
export const Profile = Type.Object({ userId: Id, username: Username, online: Type.Boolean() })

/**
 * A position in one user's feed (docs/delivery.md): opaque to clients, ordered per user, bound to the user it was
 * given to (a position of another user's, or a garbled one, is INVALID_ARGUMENT).
 */
export const Position = Type.String({ pattern: '^[0-9a-z]{1,12}\\.[A-Za-z0-9_-]{11}$', description: 'a feed position' })
/** A conversation as clients name it: `@<username>` (direct) or `#<groupId>`. */
export const Conversation = Type.String({ pattern: '^(@[a-z0-9_]{3,32}|#[A-Za-z0-9_-]{1,64})$', description: '@username or #groupId' })

/**
 * A chat message. `to` is set for direct messages, `groupId` for group messages; neither for a broadcast. `pos` is
 * its position in the feed of the user it was given to. An entry with `op` is an edit (`text` the new text) or a
 * delete of the message `messageId`; a message deleted since has no `text` and `deleted: true`.
 */
export const Message = Type.Object({
  messageId: Id,
  kind: Type.Union([Type.Literal('direct'), Type.Literal('group'), Type.Literal('broadcast')]),
  fromId: Id,
  from: Username,
  to: Type.Optional(Username),
  toId: Type.Optional(Id),
  groupId: Type.Optional(Id),
  text: Type.Optional(Text),
  /** Epoch milliseconds. */
  sentAt: Type.Number(),
  pos: Type.Optional(Position),
  op: Type.Optional(Type.Union([Type.Literal('edit'), Type.Literal('delete')])),
  /** Epoch ms of the last edit or the delete. */
  editedAt: Type.Optional(Type.Number()),
  deleted: Type.Optional(Type.Literal(true)),
})
