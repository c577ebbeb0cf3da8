import { Empty, type NatsConnection } from '@nats-io/nats-core'
import t from 'tap'
import { serveReference } from '../../conformance/v1/worker.ts'
import { at, bytesOf, readJson, resolveJson, resolveString, same, type SrvVector, type Tagged, type VectorFile } from '../../conformance/v1/vectors.ts'
import { microValidators } from '../fixtures/micro/schemas.ts'
import { connectFor, serverFor } from '../harness/index.ts'

const { vectors } = await readJson<VectorFile<SrvVector>>('srv-vectors.json')
const contract = await readJson<Tagged>('contract.json')

type Reply = Record<string, Tagged>

/** A micro reply with the metadata values that hold JSON (schemas, errors) parsed, so that they compare as JSON. */
function parsedMetadata(v: Tagged): Tagged {
  if (Array.isArray(v)) return v.map(parsedMetadata)
  if (v === null || typeof v !== 'object') return v
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => {
      if (k !== 'metadata' || x === null || typeof x !== 'object' || Array.isArray(x)) return [k, parsedMetadata(x)]
      return [k, Object.fromEntries(Object.entries(x).map(([mk, mv]) => [mk, typeof mv === 'string' && /^[{[]/.test(mv) ? JSON.parse(mv) : mv]))]
    }),
  )
}

async function ask(nc: NatsConnection, subject: string): Promise<Reply> {
  return (await nc.request(subject, Empty, { timeout: 2_000 })).json<Reply>()
}

function endpointOf(reply: Reply, name: string): Reply {
  return (reply.endpoints as Reply[]).find((e) => e.name === name)!
}

t.test('conformance - the reference worker answers every $SRV vector', async (t) => {
  const v = await microValidators()
  const schemas: Record<string, typeof v.ping> = { 'ping_response.json': v.ping, 'info_response.json': v.info, 'stats_response.json': v.stats }
  const server = await serverFor(t, { jetstream: false })
  const workerNc = await connectFor(t, server.url)
  const nc = await connectFor(t, server.url)
  const worker = await serveReference(workerNc)
  t.teardown(() => worker.stop())
  const scope = { now: 0, id: worker.id }

  for (const vector of vectors) {
    t.test(`conformance - ${vector.name}`, async (t) => {
      const subject = resolveString(vector.request.subject, scope)
      const e = vector.expect
      if (e.no_reply) {
        await t.rejects(nc.request(subject, Empty, { timeout: 1_000 }), 'no reply')
        return
      }
      const before = vector.after_call === undefined ? undefined : await ask(nc, subject)
      if (vector.after_call !== undefined)
        await nc.request(`rpc.conformance.${vector.after_call.method}`, bytesOf(vector.after_call.body_hex), { timeout: 2_000 })
      const reply = await ask(nc, subject)
      if (e.schema !== undefined) t.ok(schemas[e.schema]!(reply), `${e.schema}: ${JSON.stringify(schemas[e.schema]!.errors)}`)
      const whole = e.json ?? (e.json_ref === undefined ? undefined : at(contract, e.json_ref.replace(/^contract\.json#/, '')).value)
      if (whole !== undefined) t.ok(same(parsedMetadata(reply), parsedMetadata(resolveJson(whole, scope))), 'the reply is exactly the expected one')
      for (const [k, want] of Object.entries((e.match ?? {}) as Reply)) t.ok(same(reply[k], resolveJson(want, scope)), `${k} is ${JSON.stringify(want)}`)
      if (e.endpoint_names !== undefined)
        t.same(
          (reply.endpoints as Reply[]).map((x) => x.name),
          e.endpoint_names,
          'one endpoint per method',
        )
      for (const [field, type] of Object.entries(e.endpoint_fields ?? {})) {
        for (const ep of reply.endpoints as Reply[])
          t.ok(type === 'integer' ? Number.isInteger(ep[field]) : typeof ep[field] === type, `${ep.name}.${field} is ${type}`)
      }
      if (e.endpoint !== undefined && before !== undefined) {
        const [was, is] = [endpointOf(before, e.endpoint), endpointOf(reply, e.endpoint)]
        if (e.num_requests_delta !== undefined) t.equal((is.num_requests as number) - (was.num_requests as number), e.num_requests_delta, 'num_requests')
        if (e.num_errors_delta !== undefined) t.equal((is.num_errors as number) - (was.num_errors as number), e.num_errors_delta, 'num_errors')
        if (e.last_error !== undefined) t.equal(is.last_error, e.last_error, 'last_error')
      }
    })
  }
})
