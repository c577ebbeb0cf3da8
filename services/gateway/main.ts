/**
 * Runs one gateway: `tsx services/gateway/main.ts`. Port from GATEWAY_PORT (default 8080), NATS as role `gateway`.
 * Prints its ws:// address and "serving" when ready; SIGTERM/SIGINT close it gracefully.
 */
import { stderrLogger } from '../../src/index.ts'
import { connectNats } from '../shared/connect.ts'
import { startGateway } from './gateway.ts'
import { portFromEnv } from './options.ts'

let port: number
try {
  port = portFromEnv(process.env)
} catch (err) {
  process.stderr.write(`gateway: ${(err as Error).message}\n`)
  process.exit(2)
}

const nc = await connectNats('gateway')
let gateway
try {
  gateway = await startGateway(nc, { port, logger: stderrLogger('warn') })
} catch (err) {
  process.stderr.write(`gateway: ${(err as Error).message}\n`)
  await nc.close()
  process.exit(1)
}
process.stdout.write(`gateway serving ${gateway.url} via ${nc.getServer()}\n`)

let stopping = false
const stop = async (signal: string) => {
  if (stopping) return
  stopping = true
  process.stdout.write(`gateway stopping on ${signal}\n`)
  await gateway.close()
  await nc.drain().catch(() => undefined)
  process.exit(0)
}
process.once('SIGTERM', () => void stop('SIGTERM'))
process.once('SIGINT', () => void stop('SIGINT'))
void nc.closed().then((err) => {
  if (stopping) return
  process.stderr.write(`gateway: connection closed${err ? `: ${err.message}` : ''}\n`)
  process.exit(1)
})
