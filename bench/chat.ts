/**
 * bench:chat — the chat system end to end through its WebSockets, open loop: N users (groups of 10) send half
 * direct, half group messages at a fixed total rate, stepped up until the system saturates; then twice the best
 * clean rate (overload), then half of it (recovery). The same steps run, in the same run, against the one-process
 * in-memory yardstick (bench/chat-yardstick.ts), and the ratio of the best clean rates is printed.
 *
 *   npm run bench:chat                      system (npm start's layout) and yardstick
 *   npm run bench:chat -- --quick           shorter steps, fewer rates
 *   npm run bench:chat -- --scale           best clean rate with 1/2/4 message copies and 1/2 gateways
 *   npm run bench:chat -- --memory          gateway RSS per socket: 2,000 idle sockets, then 200 busy users
 *   npm run bench:chat -- --soak [--minutes 5] [--rate R]   RSS of every process over a long run at R msg/s
 *   npm run bench:chat -- --profile [--rate 1000]           CPU profile of every process at one rate
 * Options: --users N, --step-seconds S, --rates a,b,c, --copies N (message copies), --gateways N.
 */
import { commandLine, flag, numberOption, option } from './args.ts'
import { measuredStep, runStep, stepLine, type Pids, type Population, type StepResult } from './chat-load.ts'
import { closeAll, populate } from './chat-population.ts'
import { startChatSystem } from './chat-system.ts'
import { DEFAULT_WORKER_NICE } from '../services/shared/priority.ts'
import { measureMemory, profileRun, soak } from './chat-extras.ts'
import { cleanupAll, runScript, spawnService } from './child.ts'
import { freePort } from '../test/harness/nats-server.ts'
import { machine, saveResult } from './results.ts'
import { COLORS, writeChart } from './svg.ts'
import { markdownTable, ratio } from './table.ts'

export const DEFAULT_CHAT = {
  users: 200,
  stepSeconds: 8,
  quickStepSeconds: 3,
  rates: [250, 500, 1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 8_000, 10_000, 12_000, 16_000, 20_000],
  quickRates: [500, 1_000, 2_000, 4_000, 8_000, 12_000],
  /** Seconds of the recovery step after the overload; the system should be clean again within the first 5. */
  recoverySeconds: 6,
  /** Steps past saturation before stepping stops (a dip may be noise). */
  pastSaturation: 1,
} as const

/** The steps of one target: stepped rates until saturation, then overload at 2× the best clean rate and recovery. */
export interface Stepping {
  readonly target: string
  readonly steps: readonly StepResult[]
  readonly bestClean: number
  readonly overload?: StepResult
  readonly recovery?: StepResult & { readonly cleanAfterMs: number | null }
}

const say = (s: string) => console.log(`  ${s}`)

const cpuLine = (cpu: Record<string, number>) =>
  `cpu% ${Object.entries(cpu)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')}`

async function stepping(target: string, pop: Population, rates: readonly number[], seconds: number, overload: boolean, pids: Pids = {}): Promise<Stepping> {
  const steps: StepResult[] = []
  let bestClean = 0
  let past = 0
  for (const rate of rates) {
    const s = await measuredStep(pop, rate, seconds, pids)
    steps.push(s)
    say(`${target} ${stepLine(s)}\n      ${cpuLine(s.cpu)}`)
    if (s.clean) bestClean = Math.max(bestClean, s.acceptedPerSecond)
    else if (++past > DEFAULT_CHAT.pastSaturation) break
  }
  if (!overload || bestClean === 0) return { target, steps, bestClean }
  const over = await measuredStep(pop, 2 * bestClean, seconds, pids)
  say(`${target} overload ${stepLine(over)}\n      ${cpuLine(over.cpu)}`)
  const rec = await runStep(pop, Math.round(bestClean / 2), DEFAULT_CHAT.recoverySeconds)
  const firstClean = rec.perSecond.findIndex((w, i) => w.failed === 0 && w.ackP99Ms < 250 && rec.perSecond.slice(i).every((x) => x.failed === 0))
  const recovery = { ...rec, cleanAfterMs: firstClean < 0 ? null : firstClean * 1000 }
  say(`${target} recovery ${stepLine(rec)}; clean again after ${recovery.cleanAfterMs ?? '—'} ms`)
  return { target, steps, bestClean, overload: over, recovery }
}

async function yardstick(users: number, rates: readonly number[], seconds: number): Promise<Stepping> {
  const port = await freePort()
  const pid = await spawnService('yardstick', 'bench/chat-yardstick.ts', [String(port)], process.env, /serving/)
  const pop = await populate([`ws://127.0.0.1:${port}`], users, { prefix: 'y' })
  try {
    return await stepping('yardstick', pop, rates, seconds, false, { yardstick: [pid] })
  } finally {
    await closeAll(pop.users)
  }
}

const rows = (s: Stepping) =>
  s.steps.map((x) => [
    `${x.offered}`,
    `${x.acceptedPerSecond}`,
    x.failed === 0
      ? '0'
      : `${x.failed} (${Object.entries(x.failures)
          .map(([c, k]) => `${c} ${k}`)
          .join(', ')})`,
    `${(x.ackUs.p50 / 1000).toFixed(1)} / ${(x.ackUs.p99 / 1000).toFixed(1)}`,
    `${(x.deliveryUs.p50 / 1000).toFixed(1)} / ${(x.deliveryUs.p99 / 1000).toFixed(1)}`,
    `${x.lost} / ${x.duplicated}`,
    x.clean ? 'yes' : 'no',
  ])
const HEADER = ['offered msg/s', 'accepted/s', 'failed', 'ack p50 / p99 ms', 'delivery p50 / p99 ms', 'lost / dup', 'clean']

await runScript(async () => {
  const quick = flag('quick')
  const d = DEFAULT_CHAT
  const users = numberOption('users', d.users)
  const seconds = numberOption('step-seconds', quick ? d.quickStepSeconds : d.stepSeconds)
  const rates = option('rates', (quick ? d.quickRates : d.rates).join(','))
    .split(',')
    .map(Number)
  const copies = { message: numberOption('copies', 2) }
  const gateways = numberOption('gateways', 1)
  const workerNice = numberOption('worker-nice', DEFAULT_WORKER_NICE)
  const t0 = Date.now()
  console.log(`bench:chat ${quick ? '(quick) ' : ''}— ${machine().cores} cores; ${users} users, groups of 10, ${seconds} s per step, open loop`)

  if (flag('memory')) return void (await measureMemory(quick))
  if (flag('soak')) return void (await soak(users, numberOption('minutes', quick ? 1 : 5), numberOption('rate', 0)))
  if (flag('profile')) return void (await profileRun(users, numberOption('rate', 1_000), numberOption('seconds', quick ? 5 : 10)))

  if (flag('scale')) {
    const series: { layout: string; bestClean: number; steps: StepResult[] }[] = []
    for (const g of [1, 2]) {
      for (const m of [1, 2, 4]) {
        const system = await startChatSystem({ copies: { message: m }, gateways: g, workerNice })
        const pop = await populate(system.urls, users)
        const s = await stepping(`${m}×message ${g}×gateway`, pop, rates, seconds, false)
        series.push({ layout: system.layout, bestClean: s.bestClean, steps: [...s.steps] })
        await closeAll(pop.users)
        await cleanupAll()
      }
    }
    console.log(
      markdownTable(
        ['layout', 'best clean msg/s'],
        series.map((s) => [s.layout, String(s.bestClean)]),
      ),
    )
    const file = await saveResult('chat-scale', quick, { command: commandLine('bench:chat'), users, seconds, rates, series })
    return void console.log(`saved ${file}\ndone in ${Math.round((Date.now() - t0) / 1000)} s`)
  }

  const system = await startChatSystem({ copies, gateways, workerNice })
  say(`system up: ${system.layout}`)
  const pop = await populate(system.urls, users)
  say(`${users} users registered, logged in, in ${new Set(pop.groupOf.map((g) => g.groupId)).size} groups`)
  const sys = await stepping('system', pop, rates, seconds, true, { ...system.pids, nats: [system.natsPid!] })
  await closeAll(pop.users)
  const yard = await yardstick(users, rates, seconds)
  const r = yard.bestClean > 0 ? sys.bestClean / yard.bestClean : NaN

  console.log(`\nsystem (${system.layout})\n${markdownTable(HEADER, rows(sys))}`)
  if (sys.overload !== undefined && sys.recovery !== undefined) {
    console.log(
      `\noverload at ${sys.overload.offered}/s: ${stepLine(sys.overload)}\nrecovery at ${sys.recovery.offered}/s: clean after ${sys.recovery.cleanAfterMs ?? '—'} ms`,
    )
  }
  console.log(`\nyardstick (one process, in memory)\n${markdownTable(HEADER, rows(yard))}`)
  console.log(`\nCHAT best clean rate: system ${sys.bestClean} msg/s, yardstick ${yard.bestClean} msg/s, ratio ${ratio(r)}`)
  const file = await saveResult('chat', quick, {
    command: commandLine('bench:chat'),
    options: { users, seconds, rates, layout: system.layout },
    system: sys,
    yardstick: yard,
    ratio: r,
  })
  if (!quick) {
    const offered = [...new Set([...sys.steps, ...yard.steps].map((s) => s.offered))].sort((a, b) => a - b)
    const at = (s: Stepping) => offered.map((o) => s.steps.find((x) => x.offered === o)?.acceptedPerSecond ?? 0)
    await writeChart('bench-chat.svg', {
      title: 'bench:chat — accepted messages/s at each offered rate (open loop, 200 users)',
      notes: [commandLine('bench:chat'), `${machine().cores} cores, ${machine().cpu}; system: ${system.layout}`],
      yLabel: 'accepted msg/s',
      groups: offered.map(String),
      series: [
        { name: 'chat system', color: COLORS[1]!, values: at(sys) },
        { name: 'in-memory yardstick', color: COLORS[0]!, values: at(yard) },
      ],
      reference: { name: 'offered', values: offered },
    })
  }
  console.log(`saved ${file}\ndone in ${Math.round((Date.now() - t0) / 1000)} s`)
})
