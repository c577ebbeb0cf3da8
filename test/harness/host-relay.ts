// The relay of the simulated hosts (test/harness/host-reach.ts): run inside the switch namespace, it listens on a
// Unix socket (a file path, which every network namespace can reach) and connects each accepted stream to the TCP
// address named in the stream's first line ("198.18.0.2:4222\n"), then pipes both ways. Only 198.18.0.0/15 is
// dialled. Usage: node --import tsx test/harness/host-relay.ts <socket path>
import { connect, createServer, type Socket } from 'node:net'

const CONNECT_TIMEOUT_MS = 3_000
const MAX_HEADER = 64

/** `address:port` when `line` names a TCP address in 198.18.0.0/15; undefined otherwise. */
function relayTarget(line: string): { host: string; port: number } | undefined {
  const m = /^198\.(18|19)\.(\d{1,3})\.(\d{1,3}):(\d{1,5})$/.exec(line)
  if (m === null) return undefined
  const [c, d, port] = [Number(m[2]), Number(m[3]), Number(m[4])]
  if (c > 255 || d > 255 || port < 1 || port > 65_535) return undefined
  return { host: `198.${m[1]}.${c}.${d}`, port }
}

function relay(down: Socket): void {
  let head = Buffer.alloc(0)
  const close = (up?: Socket) => {
    down.destroy()
    up?.destroy()
  }
  const onData = (d: Buffer) => {
    head = Buffer.concat([head, d])
    const nl = head.indexOf(10)
    if (nl < 0) {
      if (head.length > MAX_HEADER) close()
      return
    }
    down.off('data', onData)
    down.pause()
    const target = relayTarget(head.subarray(0, nl).toString())
    if (target === undefined) return close()
    const rest = head.subarray(nl + 1)
    const up = connect(target)
    const timer = setTimeout(() => close(up), CONNECT_TIMEOUT_MS)
    up.once('connect', () => {
      clearTimeout(timer)
      if (rest.length > 0) up.write(rest)
      down.pipe(up)
      up.pipe(down)
      down.resume()
    })
    up.on('error', () => close(up))
    up.on('close', () => close(up))
    down.on('close', () => close(up))
  }
  down.on('data', onData)
  down.on('error', () => close())
}

const path = process.argv[2]
if (path === undefined) throw new Error('usage: host-relay.ts <socket path>')
createServer(relay).listen(path, () => console.log(`ready ${path}`))
// the relay lives as long as the namespace it runs in; SIGTERM ends it at once
process.once('SIGTERM', () => process.exit(0))
