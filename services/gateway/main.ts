/**
 * Runs one gateway: `tsx services/gateway/main.ts`. Chat port from GATEWAY_PORT (default 8080), the ops listener on
 * 127.0.0.1:8081 (GATEWAY_OPS_PORT, `off` for none), TLS, origins and limits from the variables
 * services/gateway/env-options.ts lists. NATS as role `gateway` and, for its tail of the message stream, a second
 * connection as role `gateway-feed` (services/shared/connect.ts).
 * Prints its ws:// address and "serving" when ready, and the ops address; SIGTERM/SIGINT close it gracefully. In
 * production mode it first refuses default or missing secrets (services/shared/production.ts). Started by `npm start`
 * (an IPC channel to it), it also closes gracefully when that parent is gone (services/shared/parent-watch.ts).
 */
import { stderrLogger } from 'switchboard'
import { DEFAULT_CREDENTIAL_VARS, FEED_CREDENTIAL_VARS } from '../shared/connect.ts'
import { refuseDefaultsInProduction } from '../shared/production.ts'
import { GATEWAY_FEED_ROLE } from '../shared/permissions.ts'
import { connectOrExit, stopOnSignals } from '../shared/lifecycle.ts'
import { startGateway } from './gateway.ts'
import { gatewayOptionsFromEnv } from './env-options.ts'
import type { GatewayOptions } from './options.ts'
import { watchParent } from '../shared/parent-watch.ts'

// until it serves there is nothing to close: a gateway whose parent goes while it starts just exits
let stop = (reason: string): unknown => {
  process.stdout.write(`gateway stopping on ${reason}\n`)
  process.exit(0)
}
watchParent((reason) => stop(reason))
refuseDefaultsInProduction('gateway', process.env, { connections: [DEFAULT_CREDENTIAL_VARS, FEED_CREDENTIAL_VARS], feedKey: true })
let options: GatewayOptions
try {
  options = gatewayOptionsFromEnv(process.env)
} catch (err) {
  process.stderr.write(`gateway: ${(err as Error).message}\n`)
  process.exit(2)
}

const nc = await connectOrExit('gateway', 'gateway', DEFAULT_CREDENTIAL_VARS, 'its calls')
const feed = await connectOrExit('gateway', GATEWAY_FEED_ROLE, FEED_CREDENTIAL_VARS, 'its tail of the message stream', nc)
let gateway: Awaited<ReturnType<typeof startGateway>>
try {
  gateway = await startGateway(nc, feed, { ...options, logger: stderrLogger('warn') })
} catch (err) {
  process.stderr.write(`gateway: ${(err as Error).message}\n`)
  await Promise.all([nc.close(), feed.close()])
  process.exit(1)
}
process.stdout.write(`gateway serving ${gateway.url} via ${nc.getServer()}\n`)
if (gateway.opsUrl !== undefined) process.stdout.write(`gateway ops dashboard at ${gateway.opsUrl}ops (metrics at ${gateway.opsUrl}metrics)\n`)

stop = stopOnSignals('gateway', nc, () => gateway.close(), [feed])
