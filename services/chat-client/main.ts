/**
 * The terminal chat client: `npm run chat` (GATEWAY_URL, default ws://127.0.0.1:8080). Type /help.
 */
import { createInterface } from 'node:readline'
import { COMMANDS, parseLine, runLine, type ChatContext } from './commands.ts'
import { GatewayConnection } from './connection.ts'
import { formatError, formatMessage, type ChatMessage } from './format.ts'

const url = process.env.GATEWAY_URL || 'ws://127.0.0.1:8080'
let conn: GatewayConnection
try {
  conn = await GatewayConnection.open(url)
} catch (err) {
  process.stderr.write(`${(err as Error).message}\nIs the system running? Start it with: npm start\n`)
  process.exit(1)
}

const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: '> ' })
const print = (line: string) => {
  process.stdout.write(`\r\x1b[K${line}\n`)
  rl.prompt(true)
}
const ctx: ChatContext = { conn, print, groupNames: new Map(), username: undefined, target: undefined }

conn.onEvent((e) => {
  if (e.event === 'message' || e.event === 'broadcast') print(formatMessage(e.message as ChatMessage, ctx.groupNames))
  else if (e.event === 'session' && e.userId === null) print(`session ended (${String(e.reason)}): /login again`)
})
conn.socket.on('close', () => {
  process.stdout.write('\nconnection to the gateway closed\n')
  process.exit(1)
})

print(`connected to ${url}. ${Object.keys(COMMANDS).length} commands: /help. /register, then /login.`)
// lines run one after another, in the order typed (a login waits for the register before it)
let queue = Promise.resolve()
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
rl.on('close', () => {
  void queue.then(async () => {
    conn.socket.removeAllListeners('close')
    await conn.close()
    process.exit(0)
  })
})
rl.prompt()
