/**
 * The terminal chat client: `npm run chat` (GATEWAY_URL, default ws://127.0.0.1:8080). Type /help. The connection
 * reconnects by itself and resumes from the last feed position it saw (services/gateway/web/chat-connection.js).
 */
import { createInterface } from 'node:readline'
import { WebSocket } from 'ws'
import { ChatConnection } from '../gateway/web/chat-connection.js'
import { COMMANDS, parseLine, runLine, type ChatContext } from './commands.ts'
import { formatError, formatMessage, type ChatMessage } from './format.ts'

const url = process.env.GATEWAY_URL || 'ws://127.0.0.1:8080'
const conn = new ChatConnection({ url, WebSocket: WebSocket as never })

const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: '> ' })
const print = (line: string) => {
  process.stdout.write(`\r\x1b[K${line}\n`)
  rl.prompt(true)
}
const ctx: ChatContext = { conn, print, groupNames: new Map(), username: undefined, target: undefined }

let connectedOnce = false
const ready = new Promise<void>((resolve, reject) => {
  const fail = setTimeout(() => reject(new Error(`cannot reach the gateway at ${url}`)), 5_000)
  conn.onState((s) => {
    if (s === 'online') {
      clearTimeout(fail)
      if (connectedOnce) print('reconnected')
      connectedOnce = true
      resolve()
    } else if (s === 'offline' && connectedOnce) print('connection to the gateway lost: reconnecting…')
  })
})
conn.onEvent((e) => {
  if (e.event === 'message' || e.event === 'broadcast' || e.event === 'edited' || e.event === 'deleted')
    print(formatMessage(e.message as ChatMessage, ctx.groupNames))
  else if (e.event === 'typing') print(`${String(e.from)} is typing…`)
  else if (e.event === 'signed-out') print(`session ended (${String(e.reason)}): /login again`)
})
// lines run one after another, in the order typed (a login waits for the register before it)
let queue: Promise<unknown> = ready.catch(() => undefined)
let closing = false
rl.on('line', (raw) => {
  const line = parseLine(raw)
  queue = queue.then(async () => {
    if (closing) return
    if (line.kind === 'quit') return void ((closing = true), rl.close())
    if (line.kind === 'empty') return rl.prompt()
    await runLine(ctx, line).then(
      () => rl.prompt(),
      (err) => print(formatError(err)),
    )
  })
})
conn.start()
queue = queue.then(async () => {
  try {
    await ready
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\nIs the system running? Start it with: npm start\n`)
    process.exit(1)
  }
  print(`connected to ${url}. ${Object.keys(COMMANDS).length} commands: /help. /register, then /login.`)
})
rl.on('close', () => {
  void queue.then(() => {
    conn.close()
    process.exit(0)
  })
})
rl.prompt()
