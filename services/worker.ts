/**
 * Runs one chat module's worker: `npm run worker -- <user|friend|group|message|admin>`.
 * Connects as the module's role, prints one "serving" line, and on SIGTERM/SIGINT stops gracefully and exits 0.
 */
import { pinoLogger } from 'switchboard'
import { connectNats } from './shared/connect.ts'
import { stopOnSignals } from './shared/lifecycle.ts'
import { MODULE_NAMES, MODULES, isModuleName } from './registry.ts'
import { chatOptionsFromEnv } from './shared/options.ts'

const name = process.argv[2]
if (!isModuleName(name)) {
  process.stderr.write(`usage: npm run worker -- <${MODULE_NAMES.join('|')}>\n`)
  process.exit(2)
}

const nc = await connectNats(name)
const worker = await MODULES[name].start(nc, {
  ...chatOptionsFromEnv(process.env),
  logger: pinoLogger({ level: process.env.LOG_LEVEL ?? 'error', base: { module: name } }),
})
const methods = Object.keys(worker.contract.methods).join(', ')
process.stdout.write(`${name} worker ${worker.id} serving rpc.${name}.* (${methods}) via ${nc.getServer()}\n`)

stopOnSignals(`${name} worker ${worker.id}`, nc, () => worker.stop())
