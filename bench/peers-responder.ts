/**
 * Responder process of bench:peers. argv: <natsUrl> <framework>, framework one of PEERS.
 * moleculer: a ServiceBroker with the NATS transporter (nats v2), JSON serializer, `bench.echo` with a params schema.
 * nest: a NestJS microservice over NATS (its default JSON codec), `@MessagePattern('bench.echo')`
 * applied without decorator syntax (no experimentalDecorators in this repo's tsconfig).
 */
import { serveParent } from './parent-link.ts'
import { ECHO_PARAMS, type Peer } from './peers-list.ts'

const [url, framework] = [process.argv[2]!, process.argv[3] as Peer]

async function moleculer(): Promise<() => Promise<void>> {
  const { ServiceBroker } = await import('moleculer')
  const broker = new ServiceBroker({ nodeID: 'bench-responder', transporter: { type: 'NATS', options: { url } }, serializer: 'JSON', logger: false })
  broker.createService({ name: 'bench', actions: { echo: { params: ECHO_PARAMS, handler: (ctx: { params: unknown }) => ctx.params } } })
  await broker.start()
  return () => broker.stop()
}

async function nest(): Promise<() => Promise<void>> {
  await import('reflect-metadata')
  const { NestFactory } = await import('@nestjs/core')
  const { Controller, Module } = await import('@nestjs/common')
  const { MessagePattern, Transport } = await import('@nestjs/microservices')
  class EchoController {
    echo(data: unknown): unknown {
      return data
    }
  }
  MessagePattern('bench.echo')(EchoController.prototype, 'echo', Object.getOwnPropertyDescriptor(EchoController.prototype, 'echo')!)
  Controller()(EchoController)
  class BenchModule {}
  Module({ controllers: [EchoController] })(BenchModule)
  const app = await NestFactory.createMicroservice(BenchModule, { transport: Transport.NATS, options: { servers: [url] }, logger: false })
  await app.listen()
  return () => app.close()
}

{
  const stop = framework === 'moleculer' ? await moleculer() : await nest()
  serveParent(async () => process.cpuUsage(), stop)
}
