/**
 * The yardstick of bench:chat: the one-process, in-memory chat server of the original design (no persistence, no
 * NATS), speaking the subset of the gateway protocol the load uses (hello, user.register/login, group.create/join,
 * message.send/sendGroup, pushed `message` events with a position). Bench code, not product: no password hashing,
 * no limits. Run as its own process: `npx tsx bench/chat-yardstick.ts [port]`; prints `serving on <port>`.
 */
import { randomBytes } from 'node:crypto'
import { WebSocketServer, type WebSocket } from 'ws'

interface Account {
  readonly userId: string
  readonly username: string
  readonly password: string
  readonly sockets: Set<WebSocket>
}

const accounts = new Map<string, Account>()
const byId = new Map<string, Account>()
const tokens = new Map<string, Account>()
const groups = new Map<string, Set<string>>()
let seq = 0

type Handler = (input: Record<string, unknown>, me: Account | undefined, socket: WebSocket) => unknown

function fail(code: string, message: string): never {
  throw Object.assign(new Error(message), { code })
}
const need = (me: Account | undefined): Account => me ?? fail('UNAUTHENTICATED', 'log in first')

const push = (entry: Record<string, unknown>, to: readonly string[]) => {
  const s = ++seq
  const tail = `",${JSON.stringify(entry).slice(1)}}`
  for (const userId of to) {
    const frame = `{"event":"message","message":{"pos":"${s.toString(36)}${tail}`
    for (const socket of byId.get(userId)?.sockets ?? []) socket.send(frame)
  }
  return s
}

const handlers: Record<string, Handler> = {
  'user.register': ({ username, password }) => {
    if (accounts.has(String(username))) fail('ALREADY_EXISTS', 'taken')
    const a: Account = { userId: randomBytes(8).toString('hex'), username: String(username), password: String(password), sockets: new Set() }
    accounts.set(a.username, a)
    byId.set(a.userId, a)
    return { userId: a.userId }
  },
  'user.login': ({ username, password }, _me, socket) => {
    const a = accounts.get(String(username))
    if (a === undefined || a.password !== password) fail('UNAUTHENTICATED', 'bad credentials')
    const token = randomBytes(16).toString('base64url')
    tokens.set(token, a)
    a.sockets.add(socket)
    socket.once('close', () => a.sockets.delete(socket))
    return { token, userId: a.userId, pos: seq.toString(36) }
  },
  'group.create': ({ name }, me) => {
    const groupId = randomBytes(6).toString('hex')
    groups.set(groupId, new Set([need(me).userId]))
    return { groupId, name }
  },
  'group.join': ({ groupId }, me) => {
    const g = groups.get(String(groupId)) ?? fail('NOT_FOUND', 'no such group')
    g.add(need(me).userId)
    return {}
  },
  'message.send': ({ to, text }, me) => {
    const from = need(me)
    const target = accounts.get(String(to)) ?? fail('NOT_FOUND', 'no such user')
    const messageId = randomBytes(12).toString('base64url')
    const entry = { messageId, kind: 'direct', fromId: from.userId, from: from.username, sentAt: Date.now(), to: target.username, toId: target.userId, text }
    const s = push(entry, [from.userId, target.userId])
    return { messageId, pos: s.toString(36), delivered: target.sockets.size > 0 }
  },
  'message.sendGroup': ({ groupId, text }, me) => {
    const from = need(me)
    const members = groups.get(String(groupId))
    if (members === undefined || !members.has(from.userId)) fail('PERMISSION_DENIED', 'not a member')
    const messageId = randomBytes(12).toString('base64url')
    const entry = { messageId, kind: 'group', fromId: from.userId, from: from.username, sentAt: Date.now(), groupId, text }
    const s = push(entry, [...members])
    return { messageId, pos: s.toString(36), delivered: members.size - 1 }
  },
}

const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(process.argv[2] ?? 0) })
wss.on('connection', (socket) => {
  let me: Account | undefined
  socket.send(JSON.stringify({ event: 'hello', protocol: 2, maxFrameBytes: 65_536 }))
  socket.on('message', (data) => {
    let frame: { id?: number; call?: string; input?: Record<string, unknown> }
    try {
      frame = JSON.parse(String(data))
    } catch {
      return void socket.send(JSON.stringify({ id: null, ok: false, error: { code: 'INVALID_ARGUMENT', status: 400, message: 'not JSON' } }))
    }
    try {
      const h = handlers[String(frame.call)] ?? fail('UNIMPLEMENTED', `unknown call '${frame.call}'`)
      const result = h(frame.input ?? {}, me, socket)
      if (frame.call === 'user.login') me = accounts.get(String(frame.input?.username))
      socket.send(JSON.stringify({ id: frame.id, ok: true, result }))
    } catch (err) {
      const e = err as Error & { code?: string }
      socket.send(JSON.stringify({ id: frame.id, ok: false, error: { code: e.code ?? 'INTERNAL', status: 400, message: e.message } }))
    }
  })
})
wss.on('listening', () => console.log(`serving on ${(wss.address() as { port: number }).port}`))
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => wss.close(() => process.exit(0)))
