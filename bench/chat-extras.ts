/**
 * The other measures of bench:chat: gateway memory per socket (beside the yardstick's), a soak at a fixed rate with
 * the RSS of every process, and CPU profiles of every process at one rate.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort } from '../test/harness/nats-server.ts'
import { measuredStep, runStep, stepLine } from './chat-load.ts'
import { closeAll, idleSockets, populate } from './chat-population.ts'
import { rssKb } from './proc-cpu.ts'
import { summarizePprof } from './pprof-summary.ts'
import { profileDirectory, startChatSystem } from './chat-system.ts'
import { cleanupAll, spawnService } from './child.ts'
import { summarizeProfile } from './cpuprofile-summary.ts'
import { commandLine } from './args.ts'
import { latestResult, saveResult } from './results.ts'

export const DEFAULT_EXTRAS = { idleSockets: 2_000, idleAccounts: 20, busyUsers: 200, settleMs: 3_000, soakStepSeconds: 30 } as const

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
const say = (s: string) => console.log(`  ${s}`)

/** RSS growth of a server process per socket with idle sockets, then with busy users; the gateway and the yardstick. */
export async function measureMemory(quick: boolean): Promise<void> {
  const d = DEFAULT_EXTRAS
  const sockets = quick ? 500 : d.idleSockets
  const system = await startChatSystem()
  const gatewayPid = system.pids.gateway![0]!
  const port = await freePort()
  const yardPid = await spawnService('yardstick', 'bench/chat-yardstick.ts', [String(port)], process.env, /serving/)
  const targets = [
    { name: 'gateway', url: system.urls[0]!, pid: gatewayPid, resume: true },
    { name: 'yardstick', url: `ws://127.0.0.1:${port}`, pid: yardPid, resume: false },
  ]
  const out: Record<string, unknown>[] = []
  for (const t of targets) {
    // warm: one round of calls so the code is loaded before the baseline
    const warm = await idleSockets(t.url, 10, 2, t.resume)
    await closeAll(warm)
    await sleep(d.settleMs)
    const before = await rssKb(t.pid)
    const idle = await idleSockets(t.url, sockets, d.idleAccounts, t.resume)
    await sleep(d.settleMs)
    const withIdle = await rssKb(t.pid)
    await closeAll(idle)
    await sleep(d.settleMs)
    const pop = await populate([t.url], d.busyUsers, { prefix: `m${t.name[0]}` })
    const busyBefore = await rssKb(t.pid)
    const step = await runStep(pop, 1_000, quick ? 3 : 8)
    const busy = await rssKb(t.pid)
    await closeAll(pop.users)
    const r = {
      target: t.name,
      sockets,
      rssBeforeMb: mb(before),
      rssIdleMb: mb(withIdle),
      kbPerIdleSocket: Math.round((withIdle - before) / sockets),
      busyUsers: d.busyUsers,
      rssBusyMb: mb(busy),
      kbPerBusyUser: Math.round((busy - before) / d.busyUsers),
      busyStep: stepLine(step),
    }
    say(
      `${t.name}: ${sockets} idle sockets ${r.rssBeforeMb} -> ${r.rssIdleMb} MB (${r.kbPerIdleSocket} KB per socket); ${d.busyUsers} users at 1,000 msg/s: ${mb(busyBefore)} -> ${r.rssBusyMb} MB (${r.kbPerBusyUser} KB per user over the idle baseline)`,
    )
    out.push(r)
  }
  const file = await saveResult('chat-memory', quick, { command: commandLine('bench:chat'), results: out })
  console.log(`saved ${file}`)
}

/**
 * `minutes` at `rate` msg/s (0: half the best clean rate of the newest bench:chat result), in steps; after each, the
 * RSS of every process and its CPU share over the step (% of one core).
 */
export async function soak(users: number, minutes: number, rate: number): Promise<void> {
  let r = rate
  if (r <= 0) {
    const last = (await latestResult('chat')) as { system?: { bestClean?: number } } | undefined
    r = Math.round((last?.system?.bestClean ?? 2_000) / 2)
  }
  const system = await startChatSystem()
  const pop = await populate(system.urls, users)
  const pids = Object.entries(system.pids).flatMap(([role, ps]) => ps.map((pid, i) => ({ name: `${role}#${i + 1}`, pid })))
  pids.push({ name: 'nats-server', pid: system.natsPid! })
  const byName = Object.fromEntries(pids.map((p) => [p.name, [p.pid]]))
  const samples: { minute: number; rssMb: Record<string, number>; cpu: Record<string, number>; step: string; clean: boolean }[] = []
  const steps = Math.max(1, Math.round((minutes * 60) / DEFAULT_EXTRAS.soakStepSeconds))
  say(`soak: ${minutes} min at ${r} msg/s, ${steps} steps of ${DEFAULT_EXTRAS.soakStepSeconds} s`)
  for (let k = 0; k < steps; k++) {
    const { cpu, ...s } = await measuredStep(pop, r, DEFAULT_EXTRAS.soakStepSeconds, byName, 1_000)
    const rss: Record<string, number> = {}
    for (const p of pids) rss[p.name] = mb(await rssKb(p.pid))
    samples.push({ minute: Math.round(((k + 1) * DEFAULT_EXTRAS.soakStepSeconds) / 6) / 10, rssMb: rss, cpu, step: stepLine(s), clean: s.clean })
    say(
      `${samples.at(-1)!.minute} min: ${stepLine(s)}; RSS ${Object.entries(rss)
        .map(([n, v]) => `${n} ${v}`)
        .join(', ')} MB; CPU % ${Object.entries(cpu)
        .map(([n, v]) => `${n} ${v}`)
        .join(', ')}`,
    )
  }
  await closeAll(pop.users)
  const growth = Object.fromEntries(pids.map((p) => [p.name, round1(samples.at(-1)!.rssMb[p.name]! - samples[0]!.rssMb[p.name]!)]))
  say(`RSS growth first -> last sample (MB): ${JSON.stringify(growth)}; clean steps ${samples.filter((s) => s.clean).length}/${samples.length}`)
  const file = await saveResult('chat-soak', minutes < 5, { command: commandLine('bench:chat'), users, rate: r, minutes, samples, growthMb: growth })
  console.log(`saved ${file}`)
}

/**
 * Runs the system with `--cpu-prof` for one step at `rate`, and nats-server with its Go profiler over the same
 * seconds; stops it, and prints each process's hottest functions, nats-server's too.
 */
export async function profileRun(users: number, rate: number, seconds: number): Promise<void> {
  const dir = profileDirectory()
  const system = await startChatSystem({ profileDir: dir, natsProfile: true })
  const pop = await populate(system.urls, users)
  await runStep(pop, Math.round(rate / 2), 2) // warm
  const natsProfile = fetch(`http://127.0.0.1:${system.profPort}/debug/pprof/profile?seconds=${seconds}`)
    .then(async (r) => new Uint8Array(await r.arrayBuffer()))
    .catch((err: unknown) => err as Error)
  const s = await runStep(pop, rate, seconds)
  say(stepLine(s))
  const natsFile = join(dir, 'nats-server.pb.gz')
  const prof = await natsProfile
  if (prof instanceof Error) console.log(`\n== nats-server: no profile (${prof.message})`)
  else {
    writeFileSync(natsFile, prof)
    console.log(`\n== nats-server (${natsFile})\n${summarizePprof(readFileSync(natsFile), 20)}`)
  }
  await closeAll(pop.users)
  await cleanupAll() // SIGTERM: every process writes its profile as it exits
  const roleOf = new Map(Object.entries(system.pids).flatMap(([role, ps]) => ps.map((pid, i) => [pid, `${role}#${i + 1}`] as const)))
  // the main thread's profile of each process is its biggest file
  const files = readdirSync(dir).filter((x) => x.endsWith('.cpuprofile'))
  for (const [pid, role] of roleOf) {
    const mine = files.filter((f) => f.split('.')[3] === String(pid)).sort((a, b) => statSync(join(dir, b)).size - statSync(join(dir, a)).size)
    if (mine[0] !== undefined) console.log(`\n== ${role} (${mine[0]})\n${summarizeProfile(join(dir, mine[0]), 20)}`)
  }
  console.log(`\nprofiles in ${dir} (open in Chrome DevTools or speedscope)`)
}

const mb = (kb: number) => round1(kb / 1024)
const round1 = (x: number) => Math.round(x * 10) / 10
