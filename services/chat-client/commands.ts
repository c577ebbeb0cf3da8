import { formatMessage, type ChatMessage } from './format.ts'

/** What commands need of the connection (services/gateway/web/chat-connection.js): calls, and logging in with resume. */
export interface ChatLink {
  call<T = unknown>(name: string, input?: unknown): Promise<T>
  login(username: string, password: string): Promise<{ userId: string; pos: string }>
  logout(): Promise<void>
}

/** What a command can use: the connection, a printer, and the client's little state. */
export interface ChatContext {
  readonly conn: ChatLink
  readonly print: (line: string) => void
  readonly groupNames: Map<string, string>
  username: string | undefined
  /** Where plain text (no leading /) goes: a username, or `#<groupId>`. */
  target: string | undefined
}

interface Command {
  readonly usage: string
  readonly help: string
  readonly min: number
  readonly run: (ctx: ChatContext, args: string[], rest: string) => Promise<void>
}

type Profile = { username: string; online: boolean }

const list = (ctx: ChatContext, rows: string[], empty: string) => {
  if (rows.length === 0) ctx.print(empty)
  for (const r of rows) ctx.print(`  ${r}`)
}

/** Sends `text` to a user, or to a group when `to` is `#<groupId>`. */
async function say(ctx: ChatContext, to: string, text: string): Promise<void> {
  if (to.startsWith('#')) {
    const r = await ctx.conn.call<{ delivered: number }>('message.sendGroup', { groupId: to.slice(1), text })
    ctx.print(`sent to #${ctx.groupNames.get(to.slice(1)) ?? to.slice(1)} (${r.delivered} online now)`)
  } else {
    const r = await ctx.conn.call<{ delivered: boolean }>('message.send', { to, text })
    ctx.print(r.delivered ? `sent to ${to}` : `sent to ${to} (offline: they will get it at login)`)
  }
  ctx.target = to
}

async function showOffline(ctx: ChatContext): Promise<void> {
  const msgs = await ctx.conn.call<ChatMessage[]>('message.offline', {})
  if (msgs.length > 0) ctx.print(`${msgs.length} message(s) while you were away:`)
  for (const m of msgs) ctx.print(formatMessage(m, ctx.groupNames))
}

/** The commands of the terminal client, by name. */
export const COMMANDS: Readonly<Record<string, Command>> = {
  help: { usage: '/help', help: 'this list', min: 0, run: async (ctx) => printHelp(ctx) },
  register: {
    usage: '/register <username> <password>',
    help: 'create an account',
    min: 2,
    run: async (ctx, [username, password]) => {
      await ctx.conn.call('user.register', { username, password })
      ctx.print(`registered ${username}; now /login ${username} <password>`)
    },
  },
  login: {
    usage: '/login <username> <password>',
    help: 'log in (and fetch messages kept while away)',
    min: 2,
    run: async (ctx, [username, password]) => {
      await ctx.conn.login(username!, password!)
      ctx.username = username
      ctx.print(`logged in as ${username}`)
      for (const g of await ctx.conn.call<{ groupId: string; name: string }[]>('group.mine', {})) ctx.groupNames.set(g.groupId, g.name)
      await showOffline(ctx)
    },
  },
  logout: {
    usage: '/logout',
    help: 'end the session',
    min: 0,
    run: async (ctx) => {
      await ctx.conn.logout()
      ctx.username = undefined
      ctx.print('logged out')
    },
  },
  whoami: {
    usage: '/whoami',
    help: 'who you are logged in as',
    min: 0,
    run: async (ctx) => {
      const me = await ctx.conn.call<{ username: string; userId: string; role: string }>('user.whoami', {})
      ctx.print(`${me.username} (${me.role}, id ${me.userId})`)
    },
  },
  friends: {
    usage: '/friends',
    help: 'your friends and who is online',
    min: 0,
    run: async (ctx) =>
      list(
        ctx,
        (await ctx.conn.call<Profile[]>('friend.list', {})).map((f) => `${f.username}${f.online ? ' (online)' : ''}`),
        'no friends yet: /add <username>',
      ),
  },
  add: {
    usage: '/add <username>',
    help: 'add a friend',
    min: 1,
    run: async (ctx, [username]) => void (await ctx.conn.call('friend.add', { username }), ctx.print(`${username} is now your friend`)),
  },
  remove: {
    usage: '/remove <username>',
    help: 'remove a friend',
    min: 1,
    run: async (ctx, [username]) => void (await ctx.conn.call('friend.remove', { username }), ctx.print(`removed ${username}`)),
  },
  groups: {
    usage: '/groups',
    help: 'groups you belong to',
    min: 0,
    run: async (ctx) => {
      const groups = await ctx.conn.call<{ groupId: string; name: string }[]>('group.mine', {})
      for (const g of groups) ctx.groupNames.set(g.groupId, g.name)
      list(
        ctx,
        groups.map((g) => `#${g.groupId}  ${g.name}`),
        'no groups yet: /create <name> or /join <groupId>',
      )
    },
  },
  create: {
    usage: '/create <name>',
    help: 'create a group',
    min: 1,
    run: async (ctx, _args, name) => {
      const { groupId } = await ctx.conn.call<{ groupId: string }>('group.create', { name })
      ctx.groupNames.set(groupId, name)
      ctx.print(`created #${groupId} (${name}); others join with /join ${groupId}`)
    },
  },
  join: {
    usage: '/join <groupId>',
    help: 'join a group',
    min: 1,
    run: async (ctx, [groupId]) => void (await ctx.conn.call('group.join', { groupId: strip(groupId!) }), ctx.print(`joined #${strip(groupId!)}`)),
  },
  leave: {
    usage: '/leave <groupId>',
    help: 'leave a group',
    min: 1,
    run: async (ctx, [groupId]) => void (await ctx.conn.call('group.leave', { groupId: strip(groupId!) }), ctx.print(`left #${strip(groupId!)}`)),
  },
  members: {
    usage: '/members <groupId>',
    help: 'members of a group',
    min: 1,
    run: async (ctx, [groupId]) =>
      list(
        ctx,
        (await ctx.conn.call<Profile[]>('group.members', { groupId: strip(groupId!) })).map((p) => `${p.username}${p.online ? ' (online)' : ''}`),
        'no members',
      ),
  },
  kick: {
    usage: '/kick <groupId> <username>',
    help: 'remove a member (owner only)',
    min: 2,
    run: async (ctx, [groupId, username]) => void (await ctx.conn.call('group.kick', { groupId: strip(groupId!), username }), ctx.print(`kicked ${username}`)),
  },
  msg: {
    usage: '/msg <username> <text>',
    help: 'direct message (plain lines then go to them too)',
    min: 2,
    run: (ctx, [to], rest) => say(ctx, to!, rest.slice(to!.length).trim()),
  },
  g: {
    usage: '/g <groupId> <text>',
    help: 'group message (plain lines then go to the group)',
    min: 2,
    run: (ctx, [groupId], rest) => say(ctx, `#${strip(groupId!)}`, rest.slice(groupId!.length).trim()),
  },
  history: {
    usage: '/history <username>|#<groupId> [limit]',
    help: 'past messages of a conversation',
    min: 1,
    run: async (ctx, [who, limit]) => {
      const page = limit === undefined ? {} : { limit: Number(limit) }
      const input = who!.startsWith('#') ? { groupId: who!.slice(1), ...page } : { with: who, ...page }
      const msgs = await ctx.conn.call<ChatMessage[]>('message.history', input)
      list(
        ctx,
        [...msgs].reverse().map((m) => `${formatMessage(m, ctx.groupNames)}  [${m.messageId}]`),
        'no messages',
      )
    },
  },
  offline: { usage: '/offline', help: 'messages kept while you were away', min: 0, run: showOffline },
  edit: {
    usage: '/edit <messageId> <text>',
    help: 'change the text of one of your messages (ids: /history)',
    min: 2,
    run: async (ctx, [messageId], rest) => {
      await ctx.conn.call('message.edit', { messageId, text: rest.slice(messageId!.length).trim() })
      ctx.print(`edited ${messageId}`)
    },
  },
  delete: {
    usage: '/delete <messageId>',
    help: 'delete one of your messages',
    min: 1,
    run: async (ctx, [messageId]) => void (await ctx.conn.call('message.delete', { messageId }), ctx.print(`deleted ${messageId}`)),
  },
  broadcast: {
    usage: '/broadcast <text>',
    help: '(admin) message every online session',
    min: 1,
    run: async (ctx, _a, text) =>
      ctx.print(`broadcast reached ${(await ctx.conn.call<{ delivered: number }>('admin.broadcast', { text })).delivered} session(s)`),
  },
  stats: {
    usage: '/stats',
    help: '(admin) numbers of the system',
    min: 0,
    run: async (ctx) => ctx.print(JSON.stringify(await ctx.conn.call('admin.stats', {}))),
  },
}

const strip = (groupId: string) => (groupId.startsWith('#') ? groupId.slice(1) : groupId)

function printHelp(ctx: ChatContext): void {
  ctx.print('commands:')
  for (const c of Object.values(COMMANDS)) ctx.print(`  ${c.usage.padEnd(42)} ${c.help}`)
  ctx.print('  /quit                                      leave')
  ctx.print('a line without / goes to the last conversation (/msg or /g)')
}

/** A parsed input line. */
export type Line =
  | { readonly kind: 'empty' }
  | { readonly kind: 'quit' }
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'command'; readonly name: string; readonly args: string[]; readonly rest: string }

/** Splits an input line into a command and its words (`rest` is everything after the name, trimmed). */
export function parseLine(line: string): Line {
  const text = line.trim()
  if (text === '') return { kind: 'empty' }
  if (!text.startsWith('/')) return { kind: 'text', text }
  const name = text.slice(1).split(/\s+/, 1)[0]!.toLowerCase()
  if (name === 'quit' || name === 'exit') return { kind: 'quit' }
  const rest = text.slice(1 + name.length).trim()
  return { kind: 'command', name, args: rest === '' ? [] : rest.split(/\s+/), rest }
}

/** Runs one parsed line; reports usage mistakes and call errors through `ctx.print` (never throws for them). */
export async function runLine(ctx: ChatContext, line: Exclude<Line, { kind: 'empty' | 'quit' }>): Promise<void> {
  if (line.kind === 'text') {
    if (ctx.target === undefined) return ctx.print('who to? start with /msg <username> <text> or /g <groupId> <text> (/help)')
    return say(ctx, ctx.target, line.text)
  }
  const cmd = Object.hasOwn(COMMANDS, line.name) ? COMMANDS[line.name] : undefined
  if (cmd === undefined) return ctx.print(`unknown command /${line.name} (/help)`)
  if (line.args.length < cmd.min) return ctx.print(`usage: ${cmd.usage}`)
  await cmd.run(ctx, line.args, line.rest)
}
