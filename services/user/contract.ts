import Type from 'typebox'
import { defineService } from 'switchboard'
import { Empty, Id, Password, Profile, Role, Username } from '../shared/schemas.ts'

const Identity = Type.Object({ userId: Id, username: Username, role: Role })

/** Accounts and sessions. Methods marked (auth) take `Authorization: Bearer <token>`. */
export const User = defineService('user', {
  version: '1.0.0',
  description: 'accounts and sessions',
  methods: {
    register: {
      description: 'creates an account',
      input: Type.Object({ username: Username, password: Password }),
      output: Type.Object({ userId: Id }),
      errors: { USERNAME_TAKEN: { status: 409, description: 'the username is in use' } },
    },
    login: {
      description: 'opens a session',
      input: Type.Object({ username: Username, password: Password }),
      output: Type.Object({ token: Type.String(), userId: Id, expiresAt: Type.Number() }),
      errors: { BAD_CREDENTIALS: { status: 401, description: 'unknown user or wrong password' } },
    },
    logout: { description: '(auth) ends this session', input: Empty, output: Empty },
    whoami: { description: '(auth) the session owner', input: Empty, output: Identity, idempotent: true },
    verify: {
      description: 'resolves a session token; UNAUTHENTICATED when missing, bad or expired',
      input: Type.Object({ token: Type.String({ maxLength: 512 }) }),
      output: Identity,
      idempotent: true,
    },
    lookup: {
      description: 'finds a user by name',
      input: Type.Object({ username: Username }),
      output: Type.Object({ userId: Id, username: Username }),
      errors: { NOT_FOUND: { status: 404 } },
      idempotent: true,
    },
    profiles: {
      description: 'names and presence of users by id (unknown ids are left out)',
      input: Type.Object({ userIds: Type.Array(Id, { maxItems: 1000 }) }),
      output: Type.Array(Profile),
      idempotent: true,
    },
    stats: {
      description: '(auth, role admin) how many accounts exist; used by admin.stats',
      input: Empty,
      output: Type.Object({ users: Type.Integer({ minimum: 0 }) }),
      errors: { PERMISSION_DENIED: { status: 403 } },
      idempotent: true,
    },
  },
})
