import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { decodeBody, decodeEnvelope, encodeBody } from 'switchboard'
import { decodeOkResult, NOT_OK } from 'switchboard/internal'
import { files } from '../../conformance/v1/generate.ts'
import { bytesOf, fromTagged, readJson, same, toTagged, V1_DIR, type CallerVector, type VectorFile, type WorkerVector } from '../../conformance/v1/vectors.ts'

const workerFile = await readJson<VectorFile<WorkerVector>>('worker-vectors.json')
const callerFile = await readJson<VectorFile<CallerVector>>('caller-vectors.json')

t.test('conformance - the JSON files are what generate.ts writes', async (t) => {
  for (const [name, text] of Object.entries(files())) {
    t.equal(await readFile(join(V1_DIR, name), 'utf8'), text, `${name} is up to date (run: npx tsx conformance/v1/generate.ts)`)
  }
})

t.test('conformance - the codec reads each worker-vector body as the vector says', async (t) => {
  for (const v of workerFile.vectors) {
    const bytes = bytesOf(v.request.body_hex)
    if (v.request.malformed !== undefined) {
      t.throws(() => decodeBody(bytes), `${v.name}: refused (${v.request.malformed})`)
      continue
    }
    const decoded = decodeBody(bytes)
    if (v.request.body === undefined) {
      t.equal(v.request.body_hex, '', `${v.name}: only the empty body has no value`)
      t.equal(decoded, undefined, `${v.name}: the empty body is undefined`)
      continue
    }
    t.ok(same(toTagged(decoded), v.request.body), `${v.name}: decodes to its body`)
    t.ok(same(toTagged(decodeBody(encodeBody(fromTagged(v.request.body)))), v.request.body), `${v.name}: the body survives encode and decode`)
  }
})

t.test('conformance - the codec reads each caller-vector reply as the vector says', async (t) => {
  for (const v of callerFile.vectors) {
    for (const r of v.replies) {
      if (r.body_hex === undefined) continue
      const bytes = bytesOf(r.body_hex)
      const env = decodeEnvelope(bytes)
      if (r.body !== undefined) t.ok(same(toTagged(decodeBody(bytes)), r.body), `${v.name}: the body is ${JSON.stringify(r.body)}`)
      if (r.malformed !== undefined) {
        t.equal(env, undefined, `${v.name}: not an envelope (${r.malformed})`)
        continue
      }
      if (r.status_line !== undefined) continue
      t.ok(env !== undefined && same(toTagged(env), r.body!), `${v.name}: decodes to its envelope`)
      const fast = decodeOkResult(bytes)
      if (fast !== NOT_OK) t.ok(same(toTagged(fast), (r.body as { result: never }).result), `${v.name}: the OK fast path reads the same result`)
    }
  }
})
