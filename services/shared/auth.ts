import { Header, RpcError, systemError, type CallContext, type WorkerMiddleware } from 'switchboard'
import { User } from '../user/contract.ts'

/** Who made an authenticated call; set on `ctx.state.user` by the auth middleware. */
export interface Identity {
  readonly userId: string
  readonly username: string
  readonly role: 'user' | 'admin'
}

/** The per-call state of chat workers. */
export interface AuthState {
  user?: Identity
}

/** Resolves a session token to its owner, or throws UNAUTHENTICATED. */
export type TokenResolver = (token: string, ctx: CallContext<AuthState>) => Promise<Identity>

export interface AuthOptions {
  /** The methods that need a session; the others pass through untouched. */
  readonly methods: readonly string[]
  /** How a token is resolved; by default the nested call `user.verify`. */
  readonly resolve?: TokenResolver
  /** How long a resolved token is trusted without asking again, in ms (capped at 2 s). */
  readonly cacheMs?: number
  /** Most tokens kept in the cache. */
  readonly cacheSize?: number
}

export const DEFAULT_AUTH_OPTIONS = { cacheMs: 2_000, cacheSize: 10_000 } as const

const BEARER = /^Bearer ([A-Za-z0-9_-]{1,512})$/

const verifyByCall: TokenResolver = (token, ctx) => ctx.client(User).verify({ token })

/** The session token of a call's `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(headers: Readonly<Record<string, string>>): string | undefined {
  return BEARER.exec(headers[Header.Authorization] ?? '')?.[1]
}

/**
 * Worker middleware for "(auth)" methods: resolves `Authorization: Bearer <token>` (through `user.verify` by
 * default), caches the answer briefly, and sets `ctx.state.user`. Missing, bad or expired tokens are UNAUTHENTICATED.
 */
export function authMiddleware(options: AuthOptions): WorkerMiddleware<AuthState> {
  const methods = new Set(options.methods)
  const resolve = options.resolve ?? verifyByCall
  const cacheMs = Math.min(options.cacheMs ?? DEFAULT_AUTH_OPTIONS.cacheMs, 2_000)
  const cacheSize = options.cacheSize ?? DEFAULT_AUTH_OPTIONS.cacheSize
  const cache = new Map<string, { identity: Identity; until: number }>()
  return async (ctx, next) => {
    if (!methods.has(ctx.method)) return next()
    const token = bearerToken(ctx.headers)
    if (token === undefined) throw systemError('UNAUTHENTICATED', `${ctx.service}.${ctx.method} needs 'Authorization: Bearer <token>'`)
    const now = Date.now()
    const hit = cache.get(token)
    if (hit !== undefined && hit.until > now) {
      ctx.state.user = hit.identity
      return next()
    }
    cache.delete(token)
    let identity: Identity
    try {
      identity = await resolve(token, ctx)
    } catch (err) {
      if (err instanceof RpcError && err.code === 'UNAUTHENTICATED') throw systemError('UNAUTHENTICATED', err.message)
      throw err
    }
    if (cacheMs > 0) {
      if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!)
      cache.set(token, { identity, until: now + cacheMs })
    }
    ctx.state.user = identity
    return next()
  }
}

/** The caller of an (auth) method; throws UNAUTHENTICATED if the middleware did not run. */
export function caller(ctx: CallContext<AuthState>): Identity {
  if (ctx.state.user === undefined) throw systemError('UNAUTHENTICATED', 'no session')
  return ctx.state.user
}

/** The caller when it has role admin; PERMISSION_DENIED otherwise. */
export function admin(ctx: CallContext<AuthState>): Identity {
  const me = caller(ctx)
  if (me.role !== 'admin') throw systemError('PERMISSION_DENIED', `${ctx.service}.${ctx.method} needs role admin`)
  return me
}
