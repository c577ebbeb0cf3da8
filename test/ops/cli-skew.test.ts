import t, { type Test } from 'tap'
import type { ServiceMix, Worker } from 'switchboard'
import { connectFor, serverFor } from '../harness/index.ts'
import { createLedgerStream, startLedger, type LedgerVersion } from '../fixtures/ledger/worker.ts'
import { cliIn, type Run } from '../fixtures/micro/cli.ts'

/** The CLI in this process. */
const run = (args: string[], url: string): Promise<Run> => cliIn([...args, '--server', url, '--wait', '1500'])

/** A ledger worker of `version` on its own connection (as its own process would have), stopped at teardown. */
async function ledger(t: Test, url: string, version: LedgerVersion, tag: string): Promise<Worker> {
  const nc = await connectFor(t, url)
  const w = await startLedger(nc, version, tag, { instanceId: `${version}-${tag}` })
  t.teardown(() => w.stop())
  return w
}

interface LsService {
  name: string
  versions: string[]
  mix: ServiceMix
  ids: { id: string; version: string; contract_hash: string | null }[]
}

t.test('cli - ls flags the mix of contracts the instances of a service run', async (t) => {
  const server = await serverFor(t)
  await createLedgerStream(await connectFor(t, server.url))

  t.test('cli - ls shows one contract as no mix, exit 0', async (t) => {
    const v1 = await ledger(t, server.url, 'v1', 'solo')
    const r = await run(['ls', '--long'], server.url)
    t.equal(r.code, 0, r.stderr)
    t.match(r.stdout, /^SERVICE\s+INSTANCES\s+VERSIONS\s+UPTIME\s+MIX\n/)
    t.match(r.stdout, /\nledger\s+1\s+1\.0\.0\s+\d+s\s+-\n/)
    const json = JSON.parse((await run(['ls', '--json'], server.url)).stdout) as LsService[]
    t.match(json, [{ name: 'ledger', mix: { verdict: 'single' }, ids: [{ id: v1.id, contract_hash: /^[0-9a-f]{8,}$/ }] }])
    t.match(
      r.stdout,
      new RegExp(`\\n  v1-solo\\s+1\\.0\\.0 ${json[0]!.ids[0]!.contract_hash!.slice(0, 8)}\\s+\\d+s\\n?$`),
      '--long: version and hash per instance',
    )
    await v1.stop()
  })

  t.test('cli - ls shows v1 + v2 as a compatible mix of 2 contracts, exit 0', async (t) => {
    await ledger(t, server.url, 'v1', 'a')
    await ledger(t, server.url, 'v2', 'b')
    const r = await run(['ls', '--long'], server.url)
    t.equal(r.code, 0, `a compatible mix: exit 0\n${r.stdout}${r.stderr}`)
    t.match(r.stdout, /\nledger\s+2\s+1\.0\.0,1\.1\.0\s+\d+s\s+compatible \(2 contracts\)\n/)
    t.notMatch(r.stdout, /incompatible mix/)
    const json = await run(['ls', '--json'], server.url)
    t.equal(json.code, 0)
    const [s] = JSON.parse(json.stdout) as LsService[]
    t.match(s, { name: 'ledger', mix: { verdict: 'compatible', changes: [] } })
    t.same(
      s!.mix.variants.map((v) => [v.version, v.instances]),
      [
        ['1.0.0', ['v1-a']],
        ['1.1.0', ['v2-b']],
      ],
      'oldest first',
    )
    t.same(
      s!.ids.map((i) => i.contract_hash),
      s!.mix.variants.map((v) => v.hash),
      'each instance with its contract hash',
    )
    t.not(s!.ids[0]!.contract_hash, s!.ids[1]!.contract_hash)
    t.match(r.stdout, new RegExp(`\\n  v2-b\\s+1\\.1\\.0 ${s!.ids[1]!.contract_hash!.slice(0, 8)}\\s`))
  })

  t.test('cli - ls shows v1 + broken as BREAKING with its changes, exit 1', async (t) => {
    await ledger(t, server.url, 'v1', 'c')
    await ledger(t, server.url, 'broken', 'd')
    const r = await run(['ls'], server.url)
    t.equal(r.code, 1, `a breaking mix: exit 1\n${r.stdout}`)
    t.match(r.stdout, /\nledger\s+2\s+1\.0\.0,1\.1\.0\s+\d+s\s+BREAKING \(2 contracts\)\n/)
    t.match(r.stdout, /\n\nledger: incompatible mix: ledger\.\S+.*: 1\.0\.0 → 1\.1\.0: \S/, 'the changes follow the table')
    t.match(r.stdout, /ledger: incompatible mix: ledger\.get: 1\.0\.0 → 1\.1\.0: method removed/)
    const json = await run(['ls', '--json'], server.url)
    t.equal(json.code, 1, '--json: exit 1 too')
    const [s] = JSON.parse(json.stdout) as LsService[]
    t.equal(s!.mix.verdict, 'breaking')
    t.ok(s!.mix.changes.length > 0, 'with the changes')
  })
})
