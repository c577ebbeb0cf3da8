/**
 * Runs one gateway: `tsx services/gateway/main.ts`. Port from GATEWAY_PORT (default 8080), limits from
 * GATEWAY_MAX_IN_FLIGHT and GATEWAY_SEND_RATE (services/gateway/options.ts). NATS as role `gateway` (NATS_USER,
 * NATS_PASS) and, for its tail of the message stream, a second connection as role `gateway-feed` (NATS_FEED_USER,
 * NATS_FEED_PASS).
 * Prints its ws:// address and "serving" when ready; SIGTERM/SIGINT close it gracefully.
 */
import { stderrLogger } from 'switchboard'
import { connectNats, FEED_CREDENTIAL_VARS } from '../shared/connect.ts'
import { GATEWAY_FEED_ROLE } from '../shared/permissions.ts'
import { connectSecondOrExit, stopOnSignals } from '../shared/lifecycle.ts'
import { startGateway } from './gateway.ts'
import { gatewayOptionsFromEnv, type GatewayOptions } from './options.ts'

let options: GatewayOptions
try {
  options = gatewayOptionsFromEnv(process.env)
} catch (err) {
  process.stderr.write(`gateway: ${(err as Error).message}\n`)
  process.exit(2)
}

const nc = await connectNats('gateway')
const feed = await connectSecondOrExit('gateway', GATEWAY_FEED_ROLE, FEED_CREDENTIAL_VARS, 'its tail of the message stream', nc)
let gateway: Awaited<ReturnType<typeof startGateway>>
try {
  gateway = await startGateway(nc, feed, { ...options, logger: stderrLogger('warn') })
} catch (err) {
  process.stderr.write(`gateway: ${(err as Error).message}\n`)
  await Promise.all([nc.close(), feed.close()])
  process.exit(1)
}
process.stdout.write(`gateway serving ${gateway.url} via ${nc.getServer()}\n`)

stopOnSignals('gateway', nc, () => gateway.close(), [feed])
