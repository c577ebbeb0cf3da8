/**
 * Runs several chat modules in one process: `tsx services/multi-worker.ts <module> <module>...` (`all` for every
 * module). A topology's `process: "single"` or `groups` (services/deploy/topology.ts) starts it; services/worker.ts
 * runs one module per process.
 *
 * Each module logs in as its own role over its own connection (and `<module>-reads` for a module that reads a
 * stream), with the seed `<SWITCHBOARD_CREDS_DIR>/<role>.nk`, so the permissions of config/permissions.conf hold in
 * one process as in many; the calls between them still go over NATS. NATS_USER / NATS_PASS, which name one user,
 * are refused. It prints each module's "serving" line, then `serving <n> modules in one process: ...`; on
 * SIGTERM/SIGINT (or when `npm start`, its parent, is gone) it stops every module gracefully and exits 0.
 * SWITCHBOARD_METRICS_PORT serves one `/metrics` for all of them (prom-client's registry is the process's).
 */
import type { NatsConnection } from '@nats-io/nats-core'
import { pinoLogger, type AnyContract, type Worker } from 'switchboard'
import { DEFAULT_CREDENTIAL_VARS, READS_CREDENTIAL_VARS } from './shared/connect.ts'
import { refuseDefaultsInProduction } from './shared/production.ts'
import { readsRole } from './shared/permissions.ts'
import { connectOrExit, stopOnSignals } from './shared/lifecycle.ts'
import { MODULE_NAMES, MODULES, isModuleName, type ModuleName } from './registry.ts'
import { chatOptionsFromEnv } from './shared/options.ts'
import { processSettingsOrExit } from './shared/process-settings.ts'
import { watchParent } from './shared/parent-watch.ts'

const args = process.argv.slice(2)
const asked = args.length === 1 && args[0] === 'all' ? MODULE_NAMES : args
if (asked.length === 0 || !asked.every(isModuleName) || new Set(asked).size !== asked.length) {
  process.stderr.write(`usage: tsx services/multi-worker.ts <${MODULE_NAMES.join('|')}>... (each once), or all\n`)
  process.exit(2)
}
// in start order: user first, the others call it
const names = MODULE_NAMES.filter((m) => (asked as readonly string[]).includes(m))
const label = names.join('+')

let stop = (reason: string): unknown => {
  process.stdout.write(`${label} stopping on ${reason}\n`)
  process.exit(0)
}
watchParent((reason) => stop(reason))
const oneUser = [DEFAULT_CREDENTIAL_VARS, READS_CREDENTIAL_VARS].flatMap((v) => [v.user, v.pass]).filter((v) => process.env[v])
if (oneUser.length > 0) {
  const them = oneUser.length === 1 ? 'names one NATS user' : 'name one NATS user'
  process.stderr.write(
    `${label}: ${oneUser.join(', ')} ${them}, and each module of this process logs in as its own role: unset ${oneUser.length === 1 ? 'it' : 'them'}\n`,
  )
  process.exit(2)
}
const metrics = processSettingsOrExit(label)
const reads = names.some((n) => MODULES[n].nats.reads !== undefined)
refuseDefaultsInProduction(label, process.env, {
  connections: reads ? [DEFAULT_CREDENTIAL_VARS, READS_CREDENTIAL_VARS] : [DEFAULT_CREDENTIAL_VARS],
  adminPassword: names.includes('user'),
  feedKey: names.includes('message'),
})

const connections: NatsConnection[] = []
const workers: Worker<AnyContract>[] = []
const closeAll = () => Promise.all(connections.map((c) => c.close().catch(() => undefined)))
// until every module serves, a stop closes what is open and exits
stop = (reason: string) => {
  process.stdout.write(`${label} stopping on ${reason}\n`)
  return Promise.all(workers.map((w) => w.stop().catch(() => undefined)))
    .then(closeAll)
    .then(() => process.exit(0))
}
process.once('SIGTERM', () => void stop('SIGTERM'))
process.once('SIGINT', () => void stop('SIGINT'))

const options = chatOptionsFromEnv(process.env)
for (const name of names as ModuleName[]) {
  const m = MODULES[name]
  const nc = await connectOrExit(`${name} module`, name, DEFAULT_CREDENTIAL_VARS, 'its calls', connections[0])
  connections.push(nc)
  const second = m.nats.reads === undefined ? undefined : await connectOrExit(`${name} module`, readsRole(m), READS_CREDENTIAL_VARS, 'its stream reads', nc)
  if (second !== undefined) connections.push(second)
  const worker = (await m.start(
    nc,
    {
      ...options,
      // one registry per process: the first module serves the metrics of all
      metrics: workers.length === 0 ? metrics : undefined,
      logger: pinoLogger({ level: process.env.LOG_LEVEL ?? 'error', base: { module: name } }),
    },
    second,
  )) as Worker<AnyContract>
  workers.push(worker)
  const methods = Object.keys(worker.contract.methods).join(', ')
  const metricsAt = worker.metricsUrl === undefined ? '' : `, metrics at ${worker.metricsUrl}`
  process.stdout.write(`${name} worker ${worker.id} serving rpc.${name}.* (${methods}) via ${nc.getServer()}${metricsAt}\n`)
}
process.removeAllListeners('SIGTERM')
process.removeAllListeners('SIGINT')
process.stdout.write(`serving ${names.length} modules in one process: ${names.join(', ')} (pid ${process.pid})\n`)

stop = stopOnSignals(
  label,
  connections[0]!,
  async () => {
    // the modules stop together: each answers what it has in flight, then drains its subscriptions
    await Promise.all(workers.map((w) => w.stop()))
  },
  connections.slice(1),
)
