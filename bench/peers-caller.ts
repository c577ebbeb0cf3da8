/**
 * Caller process of bench:peers. argv: <natsUrl> <framework>. Same `run` command and figures as bench/rpc-caller.ts.
 */
import { serveParent } from './parent-link.ts'
import { echoPayload } from './payload.ts'
import type { Peer } from './peers-list.ts'
import { runPlan, type RunPlan } from './plan.ts'

const [url, framework] = [process.argv[2]!, process.argv[3] as Peer]
const CALL_TIMEOUT_MS = 10_000

async function moleculer(): Promise<{ call: (p: unknown) => Promise<unknown>; stop: () => Promise<void> }> {
  const { ServiceBroker } = await import('moleculer')
  const broker = new ServiceBroker({
    nodeID: 'bench-caller',
    transporter: { type: 'NATS', options: { url } },
    serializer: 'JSON',
    logger: false,
    requestTimeout: CALL_TIMEOUT_MS,
  })
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
  serveParent(async (cmd) => {
    const payload = echoPayload(cmd.payload as 'small' | '64KB')
    return { kind: framework, ...(await runPlan(() => peer.call(payload), cmd.plan as RunPlan)) }
  }, peer.stop)
}
