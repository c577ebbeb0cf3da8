import type { NatsConnection } from '@nats-io/nats-core'
import { systemError, type Worker } from 'switchboard'
import { admin, bearerToken, caller, type Identity } from '../shared/auth.ts'
import { serveChatModule } from '../shared/serve-module.ts'
import { resolveChatOptions, type ChatOptions } from '../shared/options.ts'
import { isOnline } from '../shared/presence.ts'
import { untilStoreReady } from '../shared/store-errors.ts'
import { Accounts, type Account } from './accounts.ts'
import { User } from './contract.ts'
import { LoginLimiter } from './login-limiter.ts'
import { burnVerification, verifyPassword } from './password.ts'
import { Sessions } from './sessions.ts'

const AUTH_METHODS = ['logout', 'whoami', 'stats'] as const

const identityOf = (a: Account): Identity => ({ userId: a.userId, username: a.username, role: a.role })

/**
 * Starts a worker of the user module: accounts (salted scrypt), sessions (random tokens that expire),
 * login rate limit. Creates its KV buckets when missing and, when `adminPassword` is set, the admin account.
 */
export async function startUserWorker(nc: NatsConnection, options: Partial<ChatOptions> = {}): Promise<Worker<typeof User>> {
  const o = resolveChatOptions(options)
  const accounts = await Accounts.open(nc, o.replicas)
  const sessions = await Sessions.open(nc, o.replicas, o.tokenTtlMs)
  const limiter = await LoginLimiter.open(nc, o.replicas, o.loginFailures, o.loginWindowMs)
  // on a fresh cluster the bucket may still be electing its leader: the first write waits for it as the open did
  if (o.adminPassword !== undefined) await untilStoreReady(() => accounts.upsert(o.adminUser, o.adminPassword!, 'admin'))

  const resolve = async (token: string): Promise<Identity> => {
    const identity = await sessions.resolve(token)
    if (identity === undefined) throw systemError('UNAUTHENTICATED', 'the session token is unknown, revoked or expired')
    return identity
  }

  return serveChatModule(
    nc,
    User,
    {
      async register({ username, password }, ctx) {
        const account = await accounts.create(username, password)
        if (account === undefined) throw ctx.error('USERNAME_TAKEN', `the username '${username}' is taken`)
        return { userId: account.userId }
      },
      async login({ username, password }, ctx) {
        const waitMs = await limiter.attempt(username)
        if (waitMs > 0) throw ctx.error('RESOURCE_EXHAUSTED', `too many failed logins for '${username}'; try again in ${Math.ceil(waitMs / 1000)} s`)
        const account = await accounts.byName(username)
        const ok = account === undefined ? await burnVerification(password) : await verifyPassword(password, account.password)
        if (!ok || account === undefined) throw ctx.error('BAD_CREDENTIALS', 'unknown user or wrong password')
        await limiter.succeed(username)
        const session = await sessions.open(identityOf(account))
        return { ...session, userId: account.userId }
      },
      async logout(_, ctx) {
        await sessions.revoke(bearerToken(ctx.headers)!)
        return {}
      },
      whoami: (_, ctx) => caller(ctx),
      verify: ({ token }) => resolve(token),
      async lookup({ username }, ctx) {
        const account = await accounts.byName(username)
        if (account === undefined) throw ctx.error('NOT_FOUND', `no user '${username}'`)
        return { userId: account.userId, username: account.username }
      },
      async profiles({ userIds }) {
        const found = await Promise.all([...new Set(userIds)].map((id) => accounts.byId(id)))
        const known = found.filter((a): a is Account => a !== undefined)
        const online = await Promise.all(known.map((a) => isOnline(nc, a.userId)))
        return known.map((a, i) => ({ userId: a.userId, username: a.username, online: online[i]! }))
      },
      async stats(_, ctx) {
        admin(ctx)
        return { users: await accounts.count() }
      },
    },
    o,
    { auth: AUTH_METHODS, resolve, authCacheMs: 0 },
  )
}
