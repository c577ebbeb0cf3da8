import { readdirSync, readFileSync } from 'node:fs'
import { spawn } from 'node:child_process'
import t from 'tap'
import { DEFAULT_WORKER_NICE, NICE_VAR, niceFromEnv } from '../../services/shared/priority.ts'

t.test('priority - niceFromEnv reads SWITCHBOARD_NICE and refuses nonsense with the variable named', async (t) => {
  t.equal(niceFromEnv({}), undefined)
  t.equal(niceFromEnv({ [NICE_VAR]: '' }), undefined)
  t.equal(niceFromEnv({ [NICE_VAR]: '10' }), 10)
  t.equal(niceFromEnv({ [NICE_VAR]: '-20' }), -20)
  for (const bad of ['20', '-21', '1.5', 'high'])
    t.throws(() => niceFromEnv({ [NICE_VAR]: bad }), { name: 'TypeError', message: /SWITCHBOARD_NICE must be an integer from -20 to 19/ })
  t.ok(DEFAULT_WORKER_NICE > 0 && DEFAULT_WORKER_NICE <= 19, 'the workers default below the edge')
})

/** The nice value (field 19 of /proc/<pid>/task/<tid>/stat) of every thread of `pid`. */
const threadNices = (pid: number) =>
  readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])
  })

t.test(
  'priority - applyNice lowers the priority of every thread of the process, not only the calling one',
  { skip: process.platform !== 'linux' && 'reads /proc' },
  async (t) => {
    // in a child, so this test process keeps its priority
    const script = `import { applyNice } from './services/shared/priority.ts'; applyNice(7); process.stdout.write('set\\n'); setInterval(() => {}, 1000)`
    const child = spawn(process.execPath, ['--import=tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
    t.teardown(() => void child.kill('SIGKILL'))
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()))
    const nices = threadNices(child.pid!)
    t.ok(nices.length > 1, `node runs several threads (${nices.length})`)
    t.same([...new Set(nices)], [7], 'each of them at 7')
  },
)
