/**
 * bench:rpc — raw nats.js (nc.request() and a shared reply subscription) versus Switchboard,
 * same payload, same process layout: one responder process, one caller process per caller kind,
 * nats-server started here. The callers take turns phase by phase (sequential, then each in-flight level; see
 * bench/interleave.ts), so that drifts of a shared machine fall on all of them alike. `--quick` finishes in under a minute; `--reps N` sets the repetitions (median);
 * `--render <bench/results/rpc-….json>` redraws docs/bench-rpc.svg from a saved run;
 * `--kinds a,b`, `--levels 100` and `--level-ms N` narrow a run for profiling (no ratios then);
 * `--mode <prefix>` runs only the modes whose name starts with it; `--profile` writes CPU profiles of every child.
 */
import { startServer } from '../test/harness/nats-server.ts'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { commandLine, flag, numberOption, option } from './args.ts'
import { onCleanup, runScript, spawnChild, type Child } from './child.ts'
import { medianRun, type Summary } from './summary.ts'
import { echoPayload, payloadBytes } from './payload.ts'
import { processCpuUs } from './proc-cpu.ts'
import { machine, saveResult } from './results.ts'
import type { PlanResult, RunPlan } from './plan.ts'
import { runInterleaved } from './interleave.ts'
import { CALLER_KINDS, type CallerKind } from './rpc-subjects.ts'
import { COLORS, writeChart } from './svg.ts'
import { rate, ratio, textTable } from './table.ts'

/** The modes measured; one ratio line each. */
export const RPC_MODES = [
  { name: 'small, validation on', payload: 'small', validateOutput: true },
  { name: 'small, output validation off', payload: 'small', validateOutput: false },
  { name: '64 KB, validation on', payload: '64KB', validateOutput: true },
] as const

export const LEVELS = [1, 10, 100, 1000] as const

const LABELS: Record<CallerKind, string> = { 'raw-request': 'raw nc.request()', 'raw-shared': 'raw shared reply sub', switchboard: 'Switchboard' }

/** Targets of issue 5, as ratios of Switchboard to the shared-subscription raw line. */
export const RPC_TARGETS = { throughput: 0.8, p50: 1.15 } as const

const FULL_PLAN: RunPlan = { warmup: 5_000, sequential: { maxCalls: 5_000, maxMs: 5_000 }, levels: LEVELS, level: { maxCalls: 400_000, maxMs: 2_500 } }
const QUICK_PLAN: RunPlan = { warmup: 2_000, sequential: { maxCalls: 1_000, maxMs: 1_000 }, levels: LEVELS, level: { maxCalls: 100_000, maxMs: 600 } }

await runScript(async () => {
  const saved = option('render', '')
  if (saved !== '') {
    // --render <results.json>: redraw docs/bench-rpc.svg from a saved full run
    const r = JSON.parse(await readFile(saved, 'utf8')) as { command: string; reps: number; modes: { results: Record<CallerKind, Summary> }[] }
    console.log(`chart ${await renderChart(r.modes[0]!.results, r.command, r.reps)}`)
    return
  }
  const quick = flag('quick')
  const reps = numberOption('reps', quick ? 1 : 3)
  const base = quick ? QUICK_PLAN : FULL_PLAN
  const levelMs = numberOption('level-ms', base.level.maxMs)
  const levels = option('levels', LEVELS.join(',')).split(',').map(Number)
  const plan: RunPlan = { ...base, levels, level: { ...base.level, maxMs: levelMs } }
  const kinds = option('kinds', CALLER_KINDS.join(',')).split(',') as CallerKind[]
  const t0 = Date.now()
  console.log(`bench:rpc ${quick ? '(quick) ' : ''}— ${machine().cores} cores, ${machine().cpu}, node ${process.version}; ${reps} rep(s), medians`)
  const server = await startServer({ jetstream: false })
  onCleanup(() => server.stop())
  // --profile: every child writes a V8 CPU profile to bench/profiles/ when it exits (read it with bench/cpuprofile-summary.ts)
  // --node-flags "<flags>": V8/node flags for every child (a diagnosis, e.g. --no-allocation-site-pretenuring)
  const nodeArgs = [
    ...(flag('profile') ? ['--cpu-prof', `--cpu-prof-dir=${fileURLToPath(new URL('./profiles/', import.meta.url))}`] : []),
    ...option('node-flags', '')
      .split(' ')
      .filter((f) => f !== ''),
  ]
  // fresh responder and caller processes for every repetition: a process keeps its CPU placement and its JIT
  // decisions for life, and those alone moved a caller's CPU per call by ±25 % between otherwise equal runs
  let responder: Child | undefined
  const callers = new Map<CallerKind, Child>()
  const respawn = async () => {
    await Promise.all([responder, ...callers.values()].map((c) => c?.stop()))
    responder = await spawnChild('responder', './rpc-responder.ts', [server.url], nodeArgs)
    for (const kind of kinds) callers.set(kind, await spawnChild(`caller-${kind}`, './rpc-caller.ts', [server.url, kind], nodeArgs))
  }
  const only = option('mode', '')

  const modes = []
  for (const mode of RPC_MODES) {
    if (only !== '' && !mode.name.startsWith(only)) continue
    const runs = await runInterleaved(
      kinds,
      plan,
      reps,
      async (kind, phase) => {
        const cpu0 = await responder!.ask<NodeJS.CpuUsage & { writes: number }>({ type: 'cpu' })
        const server0 = processCpuUs(server.pid)
        const result = await callers.get(kind)!.ask<PlanResult>({ type: 'run', payload: mode.payload, validateOutput: mode.validateOutput, plan: phase })
        const cpu1 = await responder!.ask<NodeJS.CpuUsage & { writes: number }>({ type: 'cpu' })
        const cost = {
          responderUs: cpu1.user + cpu1.system - cpu0.user - cpu0.system,
          serverUs: processCpuUs(server.pid) - server0,
          responderWrites: cpu1.writes - cpu0.writes,
        }
        return { result, cost }
      },
      { beforeRep: respawn, progress: (text) => process.stdout.write(`  [${Math.round((Date.now() - t0) / 1000)}s] ${mode.name}: ${text}...          \r`) },
    )
    process.stdout.write(`${' '.repeat(90)}\r`)
    if (kinds.length < CALLER_KINDS.length) {
      for (const k of kinds) console.log(k, JSON.stringify(medianRun(runs.get(k)!)))
      return // a narrowed run (profiling) saves nothing
    }
    const s = Object.fromEntries(CALLER_KINDS.map((k) => [k, medianRun(runs.get(k)!)])) as Record<CallerKind, Summary>
    printMode(mode.name, payloadBytes(echoPayload(mode.payload)), s)
    modes.push({ ...mode, payloadBytes: payloadBytes(echoPayload(mode.payload)), results: s, ratios: ratiosOf(s) })
  }

  await Promise.all([responder, ...callers.values()].map((c) => c?.stop()))
  console.log('\nRatio lines (Switchboard / shared-sub raw, Switchboard / nc.request; targets: thr@100,1000 >= 0.80, p50 <= 1.15):')
  for (const m of modes) console.log(ratioLine(m.name, m.ratios))
  const command = commandLine('bench:rpc')
  const file = await saveResult('rpc', quick, { command, reps, plan, levels: LEVELS, targets: RPC_TARGETS, modes })
  console.log(`\nsaved ${file}`)
  if (!quick || flag('svg')) console.log(`chart ${await renderChart(modes[0]!.results, command, reps)}`)
  console.log(`done in ${Math.round((Date.now() - t0) / 1000)} s`)
})

function ratiosOf(s: Record<CallerKind, Summary>) {
  const sb = s.switchboard
  const vs = (other: Summary) => ({
    p50: sb.sequential.p50 / other.sequential.p50,
    throughput: Object.fromEntries(LEVELS.map((n) => [n, sb.throughput[n]! / other.throughput[n]!])) as Record<number, number>,
  })
  return { shared: vs(s['raw-shared']), request: vs(s['raw-request']) }
}

function printMode(name: string, bytes: number, s: Record<CallerKind, Summary>): void {
  const r = ratiosOf(s)
  const us = (v: number) => `${v} µs`
  const rows: string[][] = [
    ...(['p50', 'p90', 'p99', 'max'] as const).map((k) => [
      `sequential ${k}`,
      ...CALLER_KINDS.map((c) => us(s[c].sequential[k])),
      ratio(s.switchboard.sequential[k] / s['raw-shared'].sequential[k]),
      ratio(s.switchboard.sequential[k] / s['raw-request'].sequential[k]),
    ]),
    ...LEVELS.map((n) => [
      `calls/s @ ${n} in flight`,
      ...CALLER_KINDS.map((c) => rate(s[c].throughput[n]!)),
      ratio(r.shared.throughput[n]!),
      ratio(r.request.throughput[n]!),
    ]),
    cpuRow('caller CPU µs/call @ 100', s, (x) => x.callerCpuUs[100]!),
    cpuRow('responder CPU µs/call (run)', s, (x) => x.responderCpuUs),
    cpuRow('nats-server CPU µs/call (run)', s, (x) => x.serverCpuUs),
  ]
  console.log(`\n== ${name} (request body ${bytes} B msgpack)`)
  console.log(textTable(['', 'nc.request()', 'shared-sub raw', 'Switchboard', 'SB/shared', 'SB/request'], rows))
  const errors = CALLER_KINDS.map((c) => s[c].errors).reduce((a, b) => a + b, 0)
  if (errors > 0) console.log(`!! ${errors} failed calls (see JSON)`)
}

function cpuRow(label: string, s: Record<CallerKind, Summary>, get: (x: Summary) => number): string[] {
  const sb = get(s.switchboard)
  return [label, ...CALLER_KINDS.map((c) => get(s[c]).toFixed(1)), ratio(sb / get(s['raw-shared'])), ratio(sb / get(s['raw-request']))]
}

function ratioLine(name: string, r: ReturnType<typeof ratiosOf>): string {
  const ok = r.shared.throughput[100]! >= RPC_TARGETS.throughput && r.shared.throughput[1000]! >= RPC_TARGETS.throughput && r.shared.p50 <= RPC_TARGETS.p50
  const ahead = LEVELS.every((n) => r.request.throughput[n]! > 1) && r.request.p50 < 1
  const t = LEVELS.map((n) => `@${n} ${ratio(r.shared.throughput[n]!)}`).join(' ')
  const q = LEVELS.map((n) => `@${n} ${ratio(r.request.throughput[n]!)}`).join(' ')
  return `RATIO ${name.padEnd(30)} vs shared-sub: p50 ${ratio(r.shared.p50)} thr ${t} | vs nc.request: p50 ${ratio(r.request.p50)} thr ${q} | ${ok ? 'targets met' : 'TARGET MISSED'}${ahead ? '' : ', NOT ahead of nc.request'}`
}

async function renderChart(s: Record<CallerKind, Summary>, command: string, reps: number): Promise<string> {
  const m = machine()
  return writeChart('bench-rpc.svg', {
    title: 'Echo RPC throughput, ~60 B msgpack body, validation on (higher is better)',
    notes: [
      `command: ${command}  (median of ${reps}; responder and caller in their own processes; nats-server 2.9.10 on loopback)`,
      `machine: ${m.cores} cores, ${m.cpu}, ${m.node}.  Sequential p50: ${CALLER_KINDS.map((c) => `${LABELS[c]} ${s[c].sequential.p50} µs`).join(', ')}`,
    ],
    yLabel: 'calls per second',
    groups: LEVELS.map((n) => `${n} in flight`),
    series: CALLER_KINDS.map((c, i) => ({ name: LABELS[c], color: COLORS[i]!, values: LEVELS.map((n) => s[c].throughput[n]!) })),
  })
}
