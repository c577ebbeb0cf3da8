import { headers as natsHeaders, type Msg, type MsgHdrs } from '@nats-io/nats-core'
import { decode } from '@msgpack/msgpack'
import t from 'tap'
import { client, RpcError } from 'switchboard'
import { fromMsgHdrs } from 'switchboard/internal'
import { Conformance } from '../../conformance/v1/contract.ts'
import {
  bytesOf,
  fromTagged,
  problemsOf,
  readJson,
  same,
  toTagged,
  type CallerVector,
  type Outcome,
  type ReplySpec,
  type VectorFile,
} from '../../conformance/v1/vectors.ts'
import { connectFor, serverFor } from '../harness/index.ts'

const { vectors } = await readJson<VectorFile<CallerVector>>('caller-vectors.json')

/** The headers of a fake reply: the status line's code (nats-server's no-responders 503) and the vector's headers. */
function replyHeaders(r: ReplySpec): MsgHdrs | undefined {
  if (r.status_line === undefined && r.headers === undefined) return undefined
  const h = r.status_line === undefined ? natsHeaders() : natsHeaders(Number(r.status_line), 'No Responders')
  for (const [k, v] of Object.entries(r.headers ?? {})) h.set(k, v)
  return h
}

t.test('conformance - the TypeScript client reports what every caller vector says', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const responderNc = await connectFor(t, server.url)
  const nc = await connectFor(t, server.url)

  let current: CallerVector | undefined
  const received: Msg[] = []
  responderNc.subscribe(`rpc.${Conformance.name}.>`, {
    callback: (err, msg) => {
      if (err !== null || current === undefined) return
      const r = current.replies[Math.min(received.length, current.replies.length - 1)]!
      received.push(msg)
      if (r.silent) return
      const h = replyHeaders(r)
      msg.respond(bytesOf(r.body_hex ?? ''), h && { headers: h })
    },
  })
  await responderNc.flush()

  for (const v of vectors) {
    t.test(`conformance - ${v.name}`, async (t) => {
      current = v
      received.length = 0
      const c = client(nc, Conformance, { timeout: v.call.timeout_ms, balance: false, trace: false })
      const scope = { now: Date.now(), id: '' }
      let outcome: Outcome
      let number: number | undefined
      try {
        const result = await c.$call(v.call.method, v.call.input === undefined ? undefined : fromTagged(v.call.input))
        outcome = { status: 'OK', ...(result !== undefined && { result: toTagged(result) }) }
      } catch (err) {
        if (!(err instanceof RpcError)) throw err
        number = err.status
        outcome = { status: err.code, message: err.message, ...(err.data !== undefined && { data: toTagged(err.data) }) }
      } finally {
        current = undefined
      }
      const e = v.expect
      const problems = problemsOf(e, outcome, scope)
      if (e.number !== undefined && number !== e.number) problems.push(`number ${number}, expected ${e.number}`)
      if (e.requests !== undefined && received.length !== e.requests) problems.push(`${received.length} requests, expected ${e.requests}`)
      if (e.requests_max !== undefined && (received.length < 1 || received.length > e.requests_max))
        problems.push(`${received.length} requests, expected 1 to ${e.requests_max}`)
      const sent = received.map((m) => ({ headers: fromMsgHdrs(m.headers), data: m.data }))
      if (e.same_rpc_id && new Set(sent.map((s) => s.headers['Rpc-Id'])).size !== 1)
        problems.push(`Rpc-Id differs between attempts: ${sent.map((s) => s.headers['Rpc-Id'])}`)
      for (const [i, s] of sent.entries()) {
        for (const k of e.request?.headers_present ?? []) if (s.headers[k] === undefined) problems.push(`request ${i + 1} has no ${k}`)
        if (e.request?.body !== undefined && !same(toTagged(decode(s.data)), e.request.body))
          problems.push(`request ${i + 1} body is not ${JSON.stringify(e.request.body)}`)
        if (e.request?.body_hex !== undefined && Buffer.from(s.data).toString('hex') !== e.request.body_hex)
          problems.push(`request ${i + 1} body is not ${e.request.body_hex}`)
      }
      t.same(problems, [], `${v.rule}: ${v.name}`)
    })
  }
})
