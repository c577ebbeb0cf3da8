import { headers as natsHeaders, type MsgHdrs } from '@nats-io/nats-core'
import { decode } from '@msgpack/msgpack'
import t from 'tap'
import { fromMsgHdrs } from 'switchboard/internal'
import { serveReference } from '../../conformance/v1/worker.ts'
import {
  bytesOf,
  errorReplyProblems,
  okReplyProblems,
  problemsOf,
  readJson,
  resolveString,
  toTagged,
  type Outcome,
  type Tagged,
  type VectorFile,
  type WorkerVector,
} from '../../conformance/v1/vectors.ts'
import { connectFor, serverFor } from '../harness/index.ts'

const { vectors } = await readJson<VectorFile<WorkerVector>>('worker-vectors.json')

t.test('conformance - the reference worker answers every worker vector', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const workerNc = await connectFor(t, server.url)
  const nc = await connectFor(t, server.url)
  const worker = await serveReference(workerNc)
  t.teardown(() => worker.stop())

  for (const v of vectors) {
    t.test(`conformance - ${v.name}`, async (t) => {
      const scope = { now: Date.now(), id: worker.id }
      let h: MsgHdrs | undefined
      for (const [k, value] of Object.entries(v.request.headers)) (h ??= natsHeaders()).set(k, resolveString(value, scope))
      const msg = await nc.request(resolveString(v.request.subject, scope), bytesOf(v.request.body_hex), { timeout: 3_000, ...(h && { headers: h }) })
      // an independent decoder: the reply is checked as a caller in another language reads it
      const env = decode(msg.data) as Record<string, unknown>
      t.ok(env !== null && typeof env === 'object' && typeof env.status === 'string', 'the reply is an envelope')
      const outcome: Outcome = {
        status: env.status as string,
        ...('result' in env && { result: toTagged(env.result) }),
        ...(typeof env.message === 'string' && { message: env.message }),
        ...('data' in env && { data: toTagged(env.data) as Tagged }),
        headers: fromMsgHdrs(msg.headers),
      }
      t.same([...problemsOf(v.expect, outcome, scope), ...errorReplyProblems(outcome), ...okReplyProblems(outcome)], [], `${v.rule}: ${v.name}`)
    })
  }
})
