/**
 * The users of bench:chat: registered, logged in (spread over the gateways' URLs) and put in groups; and idle
 * sockets for the memory measure (many sessions of a few accounts, resumed by token: no password hash per socket).
 */
import type { Population } from './chat-load.ts'
import { ChatUser } from './chat-user.ts'

export const DEFAULT_POPULATION = { groupSize: 10, password: 'bench-password-1', parallel: 16 } as const

/** Runs `fn` over items with at most `n` at once. */
export async function pool<T, R>(items: readonly T[], n: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++
        out[i] = await fn(items[i]!, i)
      }
    }),
  )
  return out
}

/** Registers and logs in `n` users (user i on gateway i mod urls), in groups of `groupSize`. */
export async function populate(urls: readonly string[], n: number, { groupSize = DEFAULT_POPULATION.groupSize, prefix = 'b' } = {}): Promise<Population> {
  const run = Date.now().toString(36)
  const names = Array.from({ length: n }, (_, i) => `${prefix}${run}_${i}`)
  const password = DEFAULT_POPULATION.password
  const users = await pool(names, DEFAULT_POPULATION.parallel, async (username, i) => {
    const u = await ChatUser.open(urls[i % urls.length]!)
    await u.call('user.register', { username, password })
    await u.call('user.login', { username, password })
    return u
  })
  const groupOf: { groupId: string; members: number[] }[] = []
  for (let g = 0; g * groupSize < n; g++) {
    const members = Array.from({ length: Math.min(groupSize, n - g * groupSize) }, (_, k) => g * groupSize + k)
    const { groupId } = await users[members[0]!]!.call<{ groupId: string }>('group.create', { name: `bench ${g}` })
    await Promise.all(members.slice(1).map((i) => users[i]!.call('group.join', { groupId })))
    for (const i of members) groupOf[i] = { groupId, members }
  }
  return { users, names, groupOf }
}

/**
 * Opens `sockets` sockets logged in as `accounts` users (each socket a session of its own): with a token to resume
 * when the server has `session.resume` (the gateway), else by password (the yardstick, which hashes nothing).
 */
export async function idleSockets(url: string, sockets: number, accounts: number, resume: boolean): Promise<ChatUser[]> {
  const run = Date.now().toString(36)
  const names = Array.from({ length: accounts }, (_, i) => `idle${run}_${i}`)
  const password = DEFAULT_POPULATION.password
  const tokens = await pool(names, DEFAULT_POPULATION.parallel, async (username) => {
    const u = await ChatUser.open(url)
    await u.call('user.register', { username, password })
    const { token } = await u.call<{ token: string }>('user.login', { username, password })
    await u.close()
    return token
  })
  return pool(
    Array.from({ length: sockets }, (_, i) => i),
    64,
    async (i) => {
      const u = await ChatUser.open(url)
      if (resume) await u.call('session.resume', { token: tokens[i % accounts] })
      else await u.call('user.login', { username: names[i % accounts], password })
      return u
    },
  )
}

/** Closes every user's socket. */
export async function closeAll(users: readonly ChatUser[]): Promise<void> {
  await Promise.all(users.map((u) => u.close()))
}
