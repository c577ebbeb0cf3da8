/**
 * Runs one chat module's worker: `npm run worker -- <user|friend|group|message|admin>`.
 * Connects as the module's role (and as `<module>-reads` for a module that reads a stream: NATS_READS_USER,
 * NATS_READS_PASS), prints one "serving" line, and on SIGTERM/SIGINT stops gracefully and exits 0. In production mode
 * (NODE_ENV or SWITCHBOARD_ENV `production`) it first refuses default or missing secrets (services/shared/production.ts).
 * With SWITCHBOARD_METRICS_PORT set (a port, 0, or a range: metricsListenFromEnv) it serves Prometheus metrics at
 * `GET /metrics` and names the URL on its "serving" line. Started by `npm start` (an IPC channel to it), it also stops
 * gracefully when that parent is gone (services/shared/parent-watch.ts). With SWITCHBOARD_NICE set (-20…19) it runs at
 * that CPU niceness (services/shared/priority.ts); `npm start` sets 10, below the gateway and nats-server.
 */
import { pinoLogger } from 'switchboard'
import { DEFAULT_CREDENTIAL_VARS, READS_CREDENTIAL_VARS } from './shared/connect.ts'
import { refuseDefaultsInProduction } from './shared/production.ts'
import { readsRole } from './shared/permissions.ts'
import { connectOrExit, stopOnSignals } from './shared/lifecycle.ts'
import { MODULE_NAMES, MODULES, isModuleName } from './registry.ts'
import { chatOptionsFromEnv } from './shared/options.ts'
import { processSettingsOrExit } from './shared/process-settings.ts'
import { watchParent } from './shared/parent-watch.ts'

const name = process.argv[2]
if (!isModuleName(name)) {
  process.stderr.write(`usage: npm run worker -- <${MODULE_NAMES.join('|')}>\n`)
  process.exit(2)
}

const m = MODULES[name]
// until it serves there is nothing to drain: a worker whose parent goes while it starts just exits
let stop = (reason: string): unknown => {
  process.stdout.write(`${name} worker stopping on ${reason}\n`)
  process.exit(0)
}
watchParent((reason) => stop(reason))
const metrics = processSettingsOrExit(`${name} worker`)
refuseDefaultsInProduction(`${name} worker`, process.env, {
  connections: m.nats.reads === undefined ? [DEFAULT_CREDENTIAL_VARS] : [DEFAULT_CREDENTIAL_VARS, READS_CREDENTIAL_VARS],
  adminPassword: name === 'user',
  feedKey: name === 'message',
})
const nc = await connectOrExit(`${name} worker`, name, DEFAULT_CREDENTIAL_VARS, 'its calls')
// a module that reads a stream through consumers does it on a second connection, which may not answer requests
const reads = m.nats.reads === undefined ? undefined : await connectOrExit(`${name} worker`, readsRole(m), READS_CREDENTIAL_VARS, 'its stream reads', nc)
const worker = await m.start(
  nc,
  {
    ...chatOptionsFromEnv(process.env),
    metrics,
    logger: pinoLogger({ level: process.env.LOG_LEVEL ?? 'error', base: { module: name } }),
  },
  reads,
)
const methods = Object.keys(worker.contract.methods).join(', ')
const metricsAt = worker.metricsUrl === undefined ? '' : `, metrics at ${worker.metricsUrl}`
process.stdout.write(`${name} worker ${worker.id} serving rpc.${name}.* (${methods}) via ${nc.getServer()}${metricsAt}\n`)

stop = stopOnSignals(`${name} worker ${worker.id}`, nc, () => worker.stop(), reads === undefined ? [] : [reads])
