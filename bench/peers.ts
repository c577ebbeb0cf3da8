/**
 * bench:peers — the echo workload of bench:rpc (small body, validation on) through Switchboard, Moleculer 0.15
 * (NATS transporter, JSON) and NestJS microservices over NATS (if installed), same process layout:
 * one responder process and one caller process per framework, nats-server started here.
 * Options: --quick, --reps N.
 */
import { startServer } from '../test/harness/nats-server.ts'
import { commandLine, flag, numberOption } from './args.ts'
import { onCleanup, runScript, spawnChild, type Child } from './child.ts'
import type { PlanResult, RunPlan } from './plan.ts'
import { runInterleaved } from './interleave.ts'
import { machine, saveResult } from './results.ts'
import { PEERS, available, type Peer } from './peers-list.ts'
import { medianRun, type Summary } from './summary.ts'
import { rate, ratio, textTable } from './table.ts'

const LEVELS = [1, 10, 100, 1000] as const
const FULL_PLAN: RunPlan = { warmup: 5_000, sequential: { maxCalls: 3_000, maxMs: 4_000 }, levels: LEVELS, level: { maxCalls: 300_000, maxMs: 2_500 } }
const QUICK_PLAN: RunPlan = { warmup: 2_000, sequential: { maxCalls: 800, maxMs: 1_000 }, levels: LEVELS, level: { maxCalls: 100_000, maxMs: 700 } }
/** Targets of issue 5 at 100 in flight: Switchboard throughput over each framework's. */
export const PEER_TARGETS: Record<string, number> = { moleculer: 1.5, nest: 2 }
const LABELS: Record<string, string> = { 'raw-shared': 'raw shared-sub', switchboard: 'Switchboard', moleculer: 'Moleculer 0.15', nest: 'NestJS 12' }

await runScript(async () => {
  const quick = flag('quick')
  const reps = numberOption('reps', quick ? 1 : 3)
  const plan = quick ? QUICK_PLAN : FULL_PLAN
  const t0 = Date.now()
  console.log(`bench:peers ${quick ? '(quick) ' : ''}— ${machine().cores} cores, node ${process.version}; ${reps} rep(s), medians; ~65 B echo body`)
  const server = await startServer({ jetstream: false })
  onCleanup(() => server.stop())

  const peers: Peer[] = []
  const skipped: string[] = []
  for (const p of PEERS)
    if (await available(p)) peers.push(p)
    else skipped.push(p)
  if (skipped.length > 0) console.log(`skipped (not installed): ${skipped.join(', ')}`)

  // each framework: its responder process, its caller process; fresh ones for every repetition (see bench:rpc)
  const callers = new Map<string, Child>()
  const responders: Child[] = []
  const respawn = async () => {
    await Promise.all([...responders.splice(0), ...callers.values()].map((c) => c.stop()))
    responders.push(await spawnChild('responder', './rpc-responder.ts', [server.url]))
    for (const kind of ['raw-shared', 'switchboard'] as const) callers.set(kind, await spawnChild(`caller-${kind}`, './rpc-caller.ts', [server.url, kind]))
    for (const p of peers) {
      responders.push(await spawnChild(`responder-${p}`, './peers-responder.ts', [server.url, p]))
      callers.set(p, await spawnChild(`caller-${p}`, './peers-caller.ts', [server.url, p]))
    }
  }
  const kinds = ['raw-shared', 'switchboard', ...peers]
  const runs = await runInterleaved(
    kinds,
    plan,
    reps,
    async (kind, phase) => ({
      result: await callers.get(kind)!.ask<PlanResult>({ type: 'run', payload: 'small', validateOutput: true, plan: phase }),
    }),
    { beforeRep: respawn, progress: (text) => process.stdout.write(`  [${Math.round((Date.now() - t0) / 1000)}s] ${text}...          \r`) },
  )
  process.stdout.write(`${' '.repeat(70)}\r`)
  const s = Object.fromEntries(kinds.map((k) => [k, medianRun(runs.get(k)!)])) as Record<string, Summary>
  const sb = s.switchboard!
  const header = ['', ...kinds.map((k) => LABELS[k] ?? k), ...peers.map((p) => `SB/${p}`)]
  const rows = [
    ...(['p50', 'p99'] as const).map((q) => [
      `sequential ${q}`,
      ...kinds.map((k) => `${s[k]!.sequential[q]} µs`),
      ...peers.map((p) => ratio(sb.sequential[q] / s[p]!.sequential[q])),
    ]),
    ...LEVELS.map((n) => [
      `calls/s @ ${n} in flight`,
      ...kinds.map((k) => rate(s[k]!.throughput[n]!)),
      ...peers.map((p) => ratio(sb.throughput[n]! / s[p]!.throughput[n]!)),
    ]),
    ['caller CPU µs/call @ 100', ...kinds.map((k) => s[k]!.callerCpuUs[100]!.toFixed(1)), ...peers.map(() => '')],
  ]
  console.log(`\n${textTable(header, rows)}`)
  const errors = kinds.reduce((a, k) => a + s[k]!.errors, 0)
  if (errors > 0) console.log(`!! ${errors} failed calls`)
  for (const p of peers) {
    const r = sb.throughput[100]! / s[p]!.throughput[100]!
    console.log(`RATIO Switchboard / ${LABELS[p]} @ 100 in flight: ${ratio(r)} (target >= ${PEER_TARGETS[p]}x: ${r >= PEER_TARGETS[p]! ? 'met' : 'MISSED'})`)
  }
  const command = commandLine('bench:peers')
  const file = await saveResult('peers', quick, { command, reps, plan, skipped, results: s, targets: PEER_TARGETS })
  console.log(`\nsaved ${file}\ndone in ${Math.round((Date.now() - t0) / 1000)} s`)
})
