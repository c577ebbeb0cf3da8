/**
 * Responder process of bench:rpc. argv: <natsUrl>.
 * Serves the same echo two ways: raw nats.js (subject `raw.bench.echo`, msgpack envelope, queue group)
 * and Switchboard workers (`rpc.bench.echo` with output validation, `rpcnov.bench.echo` without).
 */
import { Decoder, Encoder } from '@msgpack/msgpack'
import { connect } from '@nats-io/transport-node'
import { serve, silentLogger } from 'switchboard'
import { BenchEcho, type EchoBody } from './echo-contract.ts'
import { serveParent } from './parent-link.ts'
import { socketWrites } from './write-counter.ts'
import { PREFIX_UNVALIDATED, PREFIX_VALIDATED, RAW_SUBJECT, RESPONDER_MAX_IN_FLIGHT } from './rpc-subjects.ts'

const handlers = {
  echo: (input: EchoBody) => input,
  wait: () => ({ ok: true }),
  spin: () => ({ x: 0 }),
}

{
  const nc = await connect({ servers: process.argv[2], name: 'bench-responder' })
  const encoder = new Encoder()
  const decoder = new Decoder()
  nc.subscribe(RAW_SUBJECT, {
    queue: 'raw',
    callback: (err, msg) => {
      if (err !== null) return
      const input = decoder.decode(msg.data)
      msg.respond(encoder.encode({ status: 'OK', result: input }))
    },
  })
  const common = { logger: silentLogger, maxInFlight: RESPONDER_MAX_IN_FLIGHT }
  const workers = [
    await serve(nc, BenchEcho, handlers, { ...common, prefix: PREFIX_VALIDATED, validateOutput: true }),
    await serve(nc, BenchEcho, handlers, { ...common, prefix: PREFIX_UNVALIDATED, validateOutput: false }),
  ]
  await nc.flush()
  serveParent(
    async () => ({ ...process.cpuUsage(), writes: socketWrites() }),
    async () => {
      await Promise.all(workers.map((w) => w.stop()))
      await nc.close()
    },
  )
}
