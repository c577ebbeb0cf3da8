/**
 * Caller process of bench:rpc. argv: <natsUrl> <kind>, kind one of CALLER_KINDS.
 * On `{ type: 'run', payload, validateOutput, plan }` it warms up, then measures sequential latency
 * and throughput at each in-flight level, and answers with the figures.
 */
import { Decoder, Encoder } from '@msgpack/msgpack'
import { connect } from '@nats-io/transport-node'
import { client } from 'switchboard'
import { BenchEcho, type EchoBody } from './echo-contract.ts'
import './write-counter.ts'
import { serveParent } from './parent-link.ts'
import { echoPayload } from './payload.ts'
import { rawSharedCaller } from './raw-shared-caller.ts'
import { runPlan, type RunPlan } from './plan.ts'
import { PREFIX_UNVALIDATED, PREFIX_VALIDATED, RAW_SUBJECT, type CallerKind } from './rpc-subjects.ts'

const CALL_TIMEOUT_MS = 10_000

{
  const [url, kind] = [process.argv[2]!, process.argv[3] as CallerKind]
  const nc = await connect({ servers: url, name: `bench-caller-${kind}` })
  const encoder = new Encoder()
  const decoder = new Decoder()
  const shared = rawSharedCaller(nc)
  const echoClients = {
    on: client(nc, BenchEcho, { prefix: PREFIX_VALIDATED, timeout: CALL_TIMEOUT_MS }),
    off: client(nc, BenchEcho, { prefix: PREFIX_UNVALIDATED, timeout: CALL_TIMEOUT_MS }),
  }

  const callOf = (payload: EchoBody, validateOutput: boolean): (() => Promise<unknown>) => {
    switch (kind) {
      case 'raw-request':
        return async () => decoder.decode((await nc.request(RAW_SUBJECT, encoder.encode(payload), { timeout: CALL_TIMEOUT_MS })).data)
      case 'raw-shared':
        return async () => decoder.decode((await shared(RAW_SUBJECT, encoder.encode(payload))).data)
      case 'switchboard': {
        const c = validateOutput ? echoClients.on : echoClients.off
        return () => c.echo(payload)
      }
    }
  }

  serveParent(
    async (cmd) => {
      const call = callOf(echoPayload(cmd.payload as 'small' | '64KB'), cmd.validateOutput as boolean)
      return { kind, ...(await runPlan(call, cmd.plan as RunPlan)) }
    },
    () => nc.close(),
  )
}
