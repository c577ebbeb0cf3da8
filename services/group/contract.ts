import Type from 'typebox'
import { defineService } from 'switchboard'
import { Empty, GroupName, Id, Profile, Username } from '../shared/schemas.ts'

/** The subject of a group's membership events: `evt.group.<groupId>` `{ groupId }` after a join, leave or kick. */
export const groupEvent = (groupId: string) => `evt.group.${groupId}`

const GroupRef = Type.Object({ groupId: Id })

/** Groups and their members. Every method is (auth). */
export const Group = defineService('group', {
  version: '1.1.0',
  description: 'groups and membership',
  methods: {
    create: { description: 'creates a group owned by the caller', input: Type.Object({ name: GroupName }), output: GroupRef },
    join: { input: GroupRef, output: Empty, errors: { NOT_FOUND: { status: 404 } } },
    leave: { input: GroupRef, output: Empty, errors: { NOT_FOUND: { status: 404 } } },
    kick: {
      description: 'owner only',
      input: Type.Object({ groupId: Id, username: Username }),
      output: Empty,
      errors: { PERMISSION_DENIED: { status: 403 }, NOT_FOUND: { status: 404 } },
    },
    members: {
      description: 'members only',
      input: GroupRef,
      output: Type.Array(Profile),
      errors: { PERMISSION_DENIED: { status: 403 }, NOT_FOUND: { status: 404 } },
      idempotent: true,
    },
    mine: {
      description: 'groups I belong to, with my unread count in each (absent when the message module cannot say now)',
      input: Empty,
      output: Type.Array(Type.Object({ groupId: Id, name: GroupName, unread: Type.Optional(Type.Integer({ minimum: 0 })) })),
      idempotent: true,
    },
    memberIds: {
      description: 'internal: the member ids of a group, for the message module (which caches them until the group changes)',
      input: GroupRef,
      output: Type.Object({ members: Type.Array(Id) }),
      errors: { NOT_FOUND: { status: 404 } },
      idempotent: true,
    },
    groupIds: { description: 'internal: the ids of the groups I belong to', input: Empty, output: Type.Object({ groupIds: Type.Array(Id) }), idempotent: true },
    stats: {
      description: '(role admin) how many groups exist; used by admin.stats',
      input: Empty,
      output: Type.Object({ groups: Type.Integer({ minimum: 0 }) }),
      errors: { PERMISSION_DENIED: { status: 403 } },
      idempotent: true,
    },
  },
})
