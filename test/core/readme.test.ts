import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import t from 'tap'
import { serverFor } from '../harness/index.ts'

t.test('readme - the example in README.md is examples/hello.ts and it runs', async (t) => {
  const readme = await readFile('README.md', 'utf8')
  const example = await readFile('examples/hello.ts', 'utf8')
  const block = /<!-- example: examples\/hello\.ts -->\s*```ts\n([\s\S]*?)```/.exec(readme)?.[1]
  t.equal(block, example, 'README shows the example verbatim')
  const server = await serverFor(t, { jetstream: false })
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/hello.ts'], {
    env: { ...process.env, NATS_URL: server.url },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d))
  child.stderr.on('data', (d: Buffer) => (out += d))
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  t.equal(code, 0, out)
  t.equal(out, 'hello, world\nBLOCKED true\n')
})
