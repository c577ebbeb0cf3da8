import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Empty, type NatsConnection } from '@nats-io/nats-core'
import t from 'tap'
import { client, MicroMeta, RpcError, type MicroInfo, type MicroStats } from 'switchboard'
import { connectFor, serverFor } from '../harness/index.ts'
import { Echo } from '../fixtures/echo-contract.ts'
import { startEcho } from '../fixtures/echo-worker.ts'
import { microValidators, OFFICIAL_DIR, SCHEMA_FILES, VENDORED_DIR } from '../fixtures/micro/schemas.ts'

async function replies(nc: NatsConnection, subject: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = []
  try {
    const it = await nc.requestMany(subject, Empty, { strategy: 'stall', maxWait: 1_000, stall: 200 })
    for await (const m of it) if (m.data.length > 0) out.push(m.json())
  } catch (err) {
    if (!/no responders/.test((err as Error).message)) throw err
  }
  return out
}

t.test('micro - the vendored schemas equal the official ones', { skip: !existsSync(OFFICIAL_DIR) && 'no official copy here' }, async (t) => {
  for (const f of SCHEMA_FILES) {
    t.same(JSON.parse(await readFile(join(VENDORED_DIR, f), 'utf8')), JSON.parse(await readFile(join(OFFICIAL_DIR, f), 'utf8')), f)
  }
})

t.test('micro - workers answer $SRV discovery like NATS micro', async (t) => {
  const v = await microValidators()
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const w1 = await startEcho(nc, 'w1', { instanceId: 'echo-one' })
  const w2 = await startEcho(nc, 'w2')
  t.teardown(() => Promise.all([w1.stop(), w2.stop()]))

  t.test('micro - PING, INFO and STATS reply on all three subject forms and pass the official schemas', async (t) => {
    for (const [verb, validate, type] of [
      ['PING', v.ping, 'io.nats.micro.v1.ping_response'],
      ['INFO', v.info, 'io.nats.micro.v1.info_response'],
      ['STATS', v.stats, 'io.nats.micro.v1.stats_response'],
    ] as const) {
      const all = await replies(nc, `$SRV.${verb}`)
      const named = await replies(nc, `$SRV.${verb}.echo`)
      const one = await replies(nc, `$SRV.${verb}.echo.echo-one`)
      t.equal(all.length, 2, `${verb} all`)
      t.equal(named.length, 2, `${verb} named`)
      t.equal(one.length, 1, `${verb} by id`)
      t.same(new Set(all.map((r) => r.id)), new Set([w1.id, w2.id]))
      t.match(one[0], { type, name: 'echo', id: 'echo-one', version: '1.0.0', metadata: { [MicroMeta.ContractVersion]: '1.0.0' } })
      for (const r of [...all, ...named, ...one]) t.ok(validate(r), `${verb} valid: ${JSON.stringify(validate.errors)}`)
    }
    t.same(await replies(nc, '$SRV.PING.nobody'), [])
  })

  t.test('micro - INFO lists every method with subject, queue group, schemas and declared errors', async (t) => {
    const [info] = (await replies(nc, '$SRV.INFO.echo.echo-one')) as unknown as MicroInfo[]
    t.equal(info!.description, 'test service')
    t.same(
      info!.endpoints.map((e) => e.name),
      Object.keys(Echo.methods),
    )
    const fail = info!.endpoints.find((e) => e.name === 'fail')!
    t.equal(fail.subject, 'rpc.echo.fail')
    t.equal(fail.queue_group, 'echo')
    for (const value of Object.values(fail.metadata)) t.type(value, 'string')
    t.same(JSON.parse(fail.metadata[MicroMeta.Input]!), JSON.parse(JSON.stringify(Echo.methods.fail.input)))
    t.same(JSON.parse(fail.metadata[MicroMeta.Output]!), JSON.parse(JSON.stringify(Echo.methods.fail.output)))
    const errors = JSON.parse(fail.metadata[MicroMeta.Errors]!)
    t.match(errors, { OUT_OF_STOCK: { status: 409, data: { type: 'object', required: ['sku', 'left'] } }, NOT_FOUND: { status: 404 } })
    const echoEp = info!.endpoints.find((e) => e.name === 'echo')!
    t.equal(echoEp.metadata[MicroMeta.Idempotent], 'true')
  })

  t.test('micro - STATS passes the schema before any error, then counts calls, errors and time', async (t) => {
    const [before] = (await replies(nc, '$SRV.STATS.echo.echo-one')) as unknown as MicroStats[]
    t.ok(v.stats(before), JSON.stringify(v.stats.errors))
    t.ok(before!.endpoints.every((e) => e.last_error === '' && e.num_errors === 0))
    t.ok(Math.abs(Date.parse(before!.started) - w1.started.getTime()) < 1_000)
    const only = client(nc, Echo, { timeout: 2_000 })
    // The second worker stops taking calls so that every call lands on echo-one.
    await w2.stop()
    await only.slow({ ms: 60 })
    await only.echo({ text: 'a' })
    const err = await only.fail({ kind: 'declared' }).catch((e: unknown) => e)
    t.ok(err instanceof RpcError && err.code === 'OUT_OF_STOCK')
    const [after] = (await replies(nc, '$SRV.STATS.echo')) as unknown as MicroStats[]
    t.ok(v.stats(after), JSON.stringify(v.stats.errors))
    const by = Object.fromEntries(after!.endpoints.map((e) => [e.name, e]))
    t.match(by.slow, { num_requests: 1, num_errors: 0, last_error: '' })
    t.ok(by.slow!.processing_time >= 55e6, 'the whole async handler is timed')
    t.equal(by.slow!.average_processing_time, by.slow!.processing_time)
    t.match(by.fail, { num_requests: 1, num_errors: 1, last_error: '409:sold out' })
    t.equal(by.echo!.num_requests, 1)
    t.ok(Number.isInteger(by.echo!.processing_time))
  })

  t.test('micro - a stopped worker no longer answers discovery', async (t) => {
    await w1.stop()
    t.same(await replies(nc, '$SRV.PING.echo'), [])
  })
})

t.test('micro - the micro option turns discovery off', async (t) => {
  const server = await serverFor(t, { jetstream: false })
  const nc = await connectFor(t, server.url)
  const w = await startEcho(nc, 'w1', { micro: false })
  t.teardown(() => w.stop())
  t.same(await replies(nc, '$SRV.PING'), [])
})
