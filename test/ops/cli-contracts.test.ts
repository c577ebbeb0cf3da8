import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import t from 'tap'
import { cliMain } from 'switchboard/internal'
import { cli, type Run } from '../fixtures/micro/cli.ts'

/** The CLI in this process (most cases; the process runs below show the binary itself). */
async function run(args: string[]): Promise<Run> {
  let stdout = ''
  let stderr = ''
  const code = await cliMain(args, {}, { out: (s) => void (stdout += `${s}\n`), err: (s) => void (stderr += `${s}\n`) })
  return { code, stdout, stderr }
}

const FIXTURES = resolve(import.meta.dirname, '../fixtures/contracts')
const ROOT = resolve(import.meta.dirname, '../..')

t.test('cli - contracts snapshot, diff and check on a contract that evolves', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-contracts-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = (name: string) => join(dir, name)
  for (const v of ['v1', 'v2-compatible', 'v2-breaking']) {
    const r = await (v === 'v1' ? cli : run)(['contracts', 'snapshot', '--dir', join(FIXTURES, v), '--out', file(`${v}.json`)])
    t.equal(r.code, 0, `${v} snapshot written: ${r.stderr}`)
  }
  const v1 = JSON.parse(readFileSync(file('v1.json'), 'utf8'))
  t.equal(v1.format, 'switchboard.contracts/1')
  t.same(Object.keys(v1.contracts), ['notes'])
  t.same(v1.contracts.notes.methods.add.input.properties.text, { maxLength: 200, minLength: 1, type: 'string' }, 'schemas as plain JSON')

  const ok = await run(['contracts', 'diff', file('v1.json'), file('v2-compatible.json')])
  t.equal(ok.code, 0, 'an additive change: exit 0')
  t.match(ok.stdout, /notes 1\.0\.0 -> 1\.1\.0: needs a minor bump, has minor/)
  t.match(ok.stdout, /compatible\s+minor\s+notes\.add input: widened/)
  t.match(ok.stdout, /compatible\s+minor\s+notes\.add error TOO_LONG/)
  t.match(ok.stdout, /compatible\s+minor\s+notes\.list: new method/)
  t.notMatch(ok.stdout, /breaking/)

  const bad = await cli(['contracts', 'diff', file('v1.json'), file('v2-breaking.json')])
  t.equal(bad.code, 1, 'a breaking change: exit 1')
  t.match(bad.stdout, /needs a major bump, has minor - not enough: 2\.0\.0 at least/)
  t.match(bad.stdout, /breaking\s+major\s+notes\.add input: \/text: strings longer than 100 characters/)
  t.match(
    bad.stdout,
    /breaking\s+major\s+notes\.add output: \/at: the new schema against the old one: property 'at' is required now \(new workers may send what old callers do not expect\)/,
  )
  t.match(bad.stdout, /breaking\s+major\s+notes\.get: method removed/)

  const json = await run(['contracts', 'diff', '--json', file('v1.json'), file('v2-breaking.json')])
  t.match(JSON.parse(json.stdout), [{ service: 'notes', needs: 'major', enough: false, suggested: '2.0.0' }], '--json')

  // an unknown-only change: exit 2
  const snap = JSON.parse(readFileSync(file('v1.json'), 'utf8'))
  snap.contracts.notes.version = '2.0.0'
  snap.contracts.notes.methods.get.input.properties.id = { not: { const: '' }, type: 'string' }
  writeFileSync(file('unknown.json'), JSON.stringify(snap))
  const unk = await run(['contracts', 'diff', file('v1.json'), file('unknown.json')])
  t.equal(unk.code, 2, `only what it cannot judge: exit 2\n${unk.stdout}`)
  t.match(unk.stdout, /unknown\s+major\s+notes\.get input: \/id: 'not' is not a construct the checker judges/)

  const garbage = await run(['contracts', 'diff', file('v1.json'), join(ROOT, 'package.json')])
  t.equal(garbage.code, 2)
  t.match(garbage.stderr, /package\.json: not a contracts snapshot/, 'a file that is not a snapshot is named')

  // check: the working tree against a lock
  const lock = file('lock.json')
  const missing = await run(['contracts', 'check', '--dir', join(FIXTURES, 'v1'), '--lock', lock])
  t.equal(missing.code, 1)
  t.match(missing.stdout, /lock\.json is missing: write it with `switchboard contracts snapshot --out/)
  writeFileSync(lock, readFileSync(file('v1.json')))
  const same = await run(['contracts', 'check', '--dir', join(FIXTURES, 'v1'), '--lock', lock])
  t.equal(same.code, 0, 'the lock matches')
  t.match(same.stdout, /contracts match/)
  const short = await run(['contracts', 'check', '--dir', join(FIXTURES, 'v2-breaking'), '--lock', lock])
  t.equal(short.code, 1, 'a breaking change with a minor bump fails the check')
  t.match(short.stdout, /notes: these changes need version 2\.0\.0 or later \(it is 1\.1\.0, the lock has 1\.0\.0\)/)
  const stale = await run(['contracts', 'check', '--dir', join(FIXTURES, 'v2-compatible'), '--lock', lock])
  t.equal(stale.code, 1, 'a compatible change still needs the lock written again')
  t.match(stale.stdout, /out of date: after a review, write it again/)
  t.notMatch(stale.stdout, /need version/)
})

t.test('cli - contracts check passes on the committed lock of the chat modules', async (t) => {
  const r = await cli(['contracts', 'check'])
  t.equal(r.code, 0, `${r.stdout}${r.stderr}`)
  t.match(r.stdout, /contracts match contracts\.lock\.json \(5 contracts\)/)
})
