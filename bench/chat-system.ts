/**
 * The chat system as bench:chat runs it: nats-server (JetStream, the shipped users and permissions), every module as
 * its own process with the copies of `npm start` (services/<name>/module.ts) unless told otherwise, and one or more
 * gateways. Everything is stopped by bench/child.ts's cleanup.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MODULE_NAMES, MODULES, type ModuleName } from '../services/registry.ts'
import { DEFAULT_WORKER_NICE, NICE_VAR } from '../services/shared/priority.ts'
import { confSecurity } from '../test/fixtures/nats-conf.ts'
import { freePort, startServer } from '../test/harness/nats-server.ts'
import { onCleanup, spawnService } from './child.ts'

/** The load comes from one address, far past one person's: the gateway's abuse limits are lifted (edge-limits.ts). */
const UNLIMITED_EDGE = {
  GATEWAY_MAX_CONNECTIONS_PER_IP: '1000000',
  GATEWAY_REGISTRATIONS_PER_HOUR: '1000000',
  GATEWAY_FRAME_RATE: '1000000/1000000',
} as const

export interface SystemLayout {
  /** Copies per module; unset modules run as many as `npm start` does. */
  readonly copies?: Partial<Record<ModuleName, number>>
  readonly gateways?: number
  /** Write a V8 CPU profile of every process here (node --cpu-prof), written when the process stops. */
  readonly profileDir?: string
  /** Serve nats-server's Go profiler (`prof_port`) on a free loopback port: ChatSystem.profPort. */
  readonly natsProfile?: boolean
  /** CPU niceness of the module workers, as `npm start` gives them (services/shared/priority.ts); 0 for none. */
  readonly workerNice?: number
  /** Extra environment of every process (chat options: CHAT_*, GATEWAY_*). */
  readonly env?: NodeJS.ProcessEnv
}

/** A running system: the gateways' URLs and the pid of every process, by role. */
export interface ChatSystem {
  readonly urls: readonly string[]
  readonly pids: Readonly<Record<string, readonly number[]>>
  readonly natsPid: number | undefined
  /** nats-server's monitoring port (/varz, /jsz, /connz on 127.0.0.1). */
  readonly monitorPort: number
  /** nats-server's profiler port (/debug/pprof/profile?seconds=N) when the layout asked for it. */
  readonly profPort: number | undefined
  readonly layout: string
}

export const DEFAULT_LAYOUT = { gateways: 1 } as const

/** Starts the system of `layout`; resolves once every process serves. */
export async function startChatSystem({
  copies = {},
  gateways = DEFAULT_LAYOUT.gateways,
  profileDir,
  natsProfile = false,
  workerNice = DEFAULT_WORKER_NICE,
  env: extra = {},
}: SystemLayout = {}): Promise<ChatSystem> {
  const profPort = natsProfile ? await freePort() : undefined
  const server = await startServer({ extra: confSecurity() + (profPort === undefined ? '' : `\nprof_port: ${profPort}\n`) })
  onCleanup(() => server.stop())
  const env = { ...process.env, NATS_URL: server.url, LOG_LEVEL: 'error', SWITCHBOARD_ADMIN_PASSWORD: 'bench-admin-pw', ...extra }
  // one file per thread (CPU.<date>.<pid>.<tid>.cpuprofile): tsx's loader runs in a thread of its own
  const nodeArgs = profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir]
  const pids: Record<string, number[]> = {}
  const started = (role: string, pid: number) => (pids[role] ??= []).push(pid)
  const counts = MODULE_NAMES.map((m) => [m, copies[m] ?? MODULES[m].copies] as const)
  // user first: every other module calls it
  for (const [m, k] of counts) {
    await Promise.all(
      Array.from({ length: k }, async (_, i) => {
        const pid = await spawnService(`${m}#${i + 1}`, 'services/worker.ts', [m], { ...env, [NICE_VAR]: String(workerNice) }, /serving/, nodeArgs)
        started(m, pid)
      }),
    )
  }
  const urls: string[] = []
  for (let g = 0; g < gateways; g++) {
    const port = await freePort()
    const pid = await spawnService(
      `gateway#${g + 1}`,
      'services/gateway/main.ts',
      [],
      { ...env, ...UNLIMITED_EDGE, GATEWAY_PORT: String(port), GATEWAY_OPS_PORT: '0' },
      /serving/,
      nodeArgs,
    )
    started('gateway', pid)
    urls.push(`ws://127.0.0.1:${port}`)
  }
  const layout = [...counts.map(([m, k]) => `${k}×${m}`), `${gateways}×gateway`].join(', ') + (workerNice === 0 ? '' : ` (workers at nice ${workerNice})`)
  return { urls, pids, natsPid: server.pid, monitorPort: server.monitorPort, profPort, layout }
}

/** A fresh directory for CPU profiles. */
export function profileDirectory(): string {
  return mkdtempSync(join(tmpdir(), 'bench-chat-prof-'))
}
