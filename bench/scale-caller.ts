/**
 * Caller process of bench:scale. argv: <natsUrl>.
 * On `{ method, input, inFlight, maxMs, maxCalls, balance }` keeps `inFlight` calls going, through a default client
 * or, with `balance: false`, one that leaves every call to the queue group; a RESOURCE_EXHAUSTED
 * (a worker at its limit) is retried at once, as a caller is meant to, and counted.
 */
import { connect } from '@nats-io/transport-node'
import { client, RpcError } from 'switchboard'
import { BenchEcho } from './echo-contract.ts'
import { throughput } from './load.ts'
import { serveParent } from './parent-link.ts'

{
  const nc = await connect({ servers: process.argv[2]!, name: 'bench-scale-caller' })
  const balanced = client(nc, BenchEcho, { timeout: 30_000 })
  const queueOnly = client(nc, BenchEcho, { timeout: 30_000, balance: false })
  serveParent(
    async (cmd) => {
      let rejected = 0
      const bench = cmd.balance === false ? queueOnly : balanced
      const call = async (): Promise<unknown> => {
        for (;;) {
          try {
            return await bench.$call(cmd.method as string, cmd.input)
          } catch (err) {
            if (!(err instanceof RpcError && err.code === 'RESOURCE_EXHAUSTED')) throw err
            rejected++
          }
        }
      }
      await throughput(call, cmd.inFlight as number, { maxCalls: 1_000_000, maxMs: cmd.warmMs as number }) // warm-up (JIT of fresh workers)
      rejected = 0
      const r = await throughput(call, cmd.inFlight as number, { maxCalls: cmd.maxCalls as number, maxMs: cmd.maxMs as number })
      return { ...r, rejected }
    },
    () => nc.close(),
  )
}
