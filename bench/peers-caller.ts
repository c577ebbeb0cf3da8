/**
 * Caller process of bench:peers. argv: <natsUrl> <framework>. Same `run` command and figures as bench/rpc-caller.ts.
 */
import { sequential, throughput } from './load.ts'
import { serveParent } from './parent-link.ts'
import { echoPayload } from './payload.ts'
import type { Peer } from './peers-list.ts'
import type { RunPlan } from './plan.ts'

const [url, framework] = [process.argv[2]!, process.argv[3] as Peer]
const CALL_TIMEOUT_MS = 10_000

async function moleculer(): Promise<{ call: (p: unknown) => Promise<unknown>; stop: () => Promise<void> }> {
  const { ServiceBroker } = await import('moleculer')
  const broker = new ServiceBroker({ nodeID: 'bench-caller', transporter: { type: 'NATS', options: { url } }, serializer: 'JSON', logger: false, requestTimeout: CALL_TIMEOUT_MS })
  await broker.start()
  await broker.waitForServices('bench', 10_000)
  return { call: (p) => broker.call('bench.echo', p as Record<string, unknown>), stop: () => broker.stop() }
}

async function nest(): Promise<{ call: (p: unknown) => Promise<unknown>; stop: () => Promise<void> }> {
  await import('reflect-metadata')
  ;(await import('@nestjs/common')).Logger.overrideLogger(false)
  const { ClientProxyFactory, Transport } = await import('@nestjs/microservices')
  const { firstValueFrom } = await import('rxjs')
  const proxy = ClientProxyFactory.create({ transport: Transport.NATS, options: { servers: [url] } })
  await proxy.connect()
  return { call: (p) => firstValueFrom(proxy.send('bench.echo', p)), stop: async () => proxy.close() }
}

{
  const peer = framework === 'moleculer' ? await moleculer() : await nest()
  serveParent(
    async (cmd) => {
      const plan = cmd.plan as RunPlan
      const payload = echoPayload(cmd.payload as 'small' | '64KB')
      const call = () => peer.call(payload)
      await call()
      await throughput(call, 100, { maxCalls: plan.warmup, maxMs: 10_000 })
      const seq = await sequential(call, plan.sequential)
      const levels = []
      for (const n of plan.levels) levels.push(await throughput(call, n, plan.level))
      return { kind: framework, sequential: seq, levels }
    },
    peer.stop,
  )
}
