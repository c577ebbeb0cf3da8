/**
 * The open-loop load of bench:chat: users send at a fixed total rate whatever the answers, half direct and half group
 * messages; every message is tracked per recipient (its sender's own sessions included: the feed pushes a message
 * to both sides), so a step knows what was accepted, refused (by code), lost and pushed twice.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { CallFailure, ChatUser, PushedMessage } from './chat-user.ts'
import { latencyHistogram, summarize, type LatencySummary } from './histogram.ts'
import { processCpuUs } from './proc-cpu.ts'

/** Users logged in, with the groups they are in: what a step sends between. */
export interface Population {
  readonly users: readonly ChatUser[]
  readonly names: readonly string[]
  /** The group of user i: its id and its members' indexes. */
  readonly groupOf: readonly { readonly groupId: string; readonly members: readonly number[] }[]
}

/** One step at one offered rate. */
export interface StepResult {
  readonly offered: number
  readonly seconds: number
  readonly sent: number
  readonly accepted: number
  readonly acceptedPerSecond: number
  readonly failed: number
  readonly failures: Record<string, number>
  /** One message of each failure code, to tell where the refusals come from. */
  readonly failureSamples: Record<string, string>
  /** The slowest refusal (any failure), ms: overload should be refused at once, not timed out. */
  readonly refusalP99Ms: number
  readonly ackUs: LatencySummary
  /** Send to push on another recipient's socket. */
  readonly deliveryUs: LatencySummary
  readonly expectedDeliveries: number
  readonly delivered: number
  readonly lost: number
  readonly duplicated: number
  /** Pushes of messages whose send failed (stored, but the answer was lost): not counted as lost or duplicated. */
  readonly ofFailed: number
  /** Per second of the step: accepted and failed counts, for recovery after an overload. */
  readonly perSecond: readonly { accepted: number; failed: number; ackP99Ms: number }[]
  /**
   * This load generator's own event-loop delay while it sent, p99 ms: every latency it reports includes up to this
   * much of its own waiting (it shares the cores with the system it measures).
   */
  readonly loadgenLagP99Ms: number
  readonly clean: boolean
}

/** What makes a step clean (issue 15): nothing failed, lost or pushed twice, delivery p99 under 250 ms, ≥ 90 % accepted. */
export const CLEAN = { deliveryP99Ms: 250, acceptedShare: 0.9 } as const

interface Tracked {
  readonly sentAt: number
  readonly expect: readonly number[]
  readonly sender: number
  seen: number
  accepted: boolean | undefined
}

const TICK_MS = 5

/**
 * Sends `rate` messages/s in total for `seconds`, spread evenly over the users, without waiting for answers; then
 * waits `graceMs` for the last answers and pushes and counts.
 */
export async function runStep(pop: Population, rate: number, seconds: number, graceMs = 2_000): Promise<StepResult> {
  const n = pop.users.length
  const tracked: Tracked[] = []
  const ack = latencyHistogram()
  const delivery = latencyHistogram()
  const refusals: number[] = []
  const failures: Record<string, number> = {}
  const failureSamples: Record<string, string> = {}
  const perSecond = Array.from({ length: Math.ceil(seconds) }, () => ({ accepted: 0, failed: 0, acks: [] as number[] }))
  let delivered = 0
  let duplicated = 0
  let ofFailed = 0
  const lag = monitorEventLoopDelay({ resolution: 5 })
  lag.enable()
  const t0 = performance.now()
  const bit = (msg: Tracked, recipient: number) => {
    const i = msg.expect.indexOf(recipient)
    return i < 0 ? 0 : 1 << i
  }
  pop.users.forEach((u, me) => {
    u.onMessage = (m: PushedMessage) => {
      const k = Number(m.text.slice(2))
      const msg = tracked[k]
      if (!m.text.startsWith('m ') || msg === undefined) return
      const b = bit(msg, me)
      if (b === 0) return
      if ((msg.seen & b) !== 0) {
        duplicated++
        return
      }
      msg.seen |= b
      if (msg.accepted === false) ofFailed++
      delivered++
      if (me !== msg.sender) delivery.recordValue(Math.max(1, Math.round((performance.now() - msg.sentAt) * 1000)))
    }
  })
  const send = (k: number) => {
    const i = k % n
    const u = pop.users[i]!
    const direct = Math.floor(k / n) % 2 === 0
    const group = pop.groupOf[i]!
    const to = (i + 1 + ((k * 7919) % (n - 1))) % n
    const sentAt = performance.now()
    const msg: Tracked = { sentAt, expect: direct ? [i, to] : group.members, sender: i, seen: 0, accepted: undefined }
    tracked[k] = msg
    const text = `m ${k}`
    const call = direct ? u.call('message.send', { to: pop.names[to], text }) : u.call('message.sendGroup', { groupId: group.groupId, text })
    const second = perSecond[Math.min(perSecond.length - 1, Math.floor((sentAt - t0) / 1000))]!
    call.then(
      () => {
        msg.accepted = true
        const us = Math.max(1, Math.round((performance.now() - sentAt) * 1000))
        ack.recordValue(us)
        second.accepted++
        second.acks.push(us)
      },
      (err: CallFailure) => {
        msg.accepted = false
        refusals.push(performance.now() - sentAt)
        const code = String(err.message).split(':')[0]!
        failures[code] = (failures[code] ?? 0) + 1
        failureSamples[code] ??= err.message.slice(0, 200)
        second.failed++
      },
    )
  }
  const total = Math.round(rate * seconds)
  let next = 0
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate))
      while (next < due) send(next++)
      if (next >= total) return resolve()
      setTimeout(tick, TICK_MS)
    }
    tick()
  })
  const sendSeconds = (performance.now() - t0) / 1000
  lag.disable()
  // wait for every answer (the gateway's call timeout bounds it), then for the last pushes
  const deadline = performance.now() + 35_000
  while (tracked.some((m) => m.accepted === undefined) && performance.now() < deadline) await sleep(50)
  await sleep(graceMs)
  for (const u of pop.users) u.onMessage = () => {}

  let accepted = 0
  let expectedDeliveries = 0
  let lost = 0
  for (const m of tracked) {
    if (m.accepted !== true) continue
    accepted++
    expectedDeliveries += m.expect.length
    for (let j = 0; j < m.expect.length; j++) if ((m.seen & (1 << j)) === 0) lost++
  }
  const failed = tracked.length - accepted
  refusals.sort((a, b) => a - b)
  const ackUs = summarize(ack)
  const deliveryUs = summarize(delivery)
  ack.destroy()
  delivery.destroy()
  const acceptedPerSecond = Math.round(accepted / Math.max(seconds, sendSeconds))
  const clean = failed === 0 && lost === 0 && duplicated === 0 && deliveryUs.p99 < CLEAN.deliveryP99Ms * 1000 && accepted >= CLEAN.acceptedShare * total
  return {
    offered: rate,
    seconds,
    sent: tracked.length,
    accepted,
    acceptedPerSecond,
    failed,
    failures,
    failureSamples,
    refusalP99Ms: refusals.length === 0 ? 0 : round1(refusals[Math.min(refusals.length - 1, Math.floor(refusals.length * 0.99))]!),
    ackUs,
    deliveryUs,
    expectedDeliveries,
    delivered,
    lost,
    duplicated,
    ofFailed,
    perSecond: perSecond.map((s) => ({ accepted: s.accepted, failed: s.failed, ackP99Ms: round1(percentile(s.acks, 0.99) / 1000) })),
    loadgenLagP99Ms: round1(lag.percentile(99) / 1e6),
    clean,
  }
}

/** The processes whose CPU a step reports, by name. */
export type Pids = Readonly<Record<string, readonly number[]>>

/** A step with the CPU share (% of one core) of every process of the target and of this load generator. */
export async function measuredStep(
  pop: Population,
  rate: number,
  seconds: number,
  pids: Pids,
  graceMs?: number,
): Promise<StepResult & { cpu: Record<string, number> }> {
  const before = Object.fromEntries(Object.entries(pids).map(([k, ps]) => [k, ps.reduce((a, p) => a + processCpuUs(p), 0)]))
  const self = process.cpuUsage()
  const t = performance.now()
  const s = await runStep(pop, rate, seconds, graceMs)
  const us = (performance.now() - t) * 1000
  const cpu: Record<string, number> = {}
  for (const [k, ps] of Object.entries(pids)) cpu[k] = Math.round((100 * (ps.reduce((a, p) => a + processCpuUs(p), 0) - before[k]!)) / us)
  const own = process.cpuUsage(self)
  cpu.loadgen = Math.round((100 * (own.user + own.system)) / us)
  return { ...s, cpu }
}

/** One line of a step for the console. */
export function stepLine(s: StepResult): string {
  const ms = (us: number) => (us / 1000).toFixed(1)
  const fails = s.failed === 0 ? '0' : `${s.failed} ${JSON.stringify(s.failures)} (p99 ${s.refusalP99Ms} ms)`
  return (
    `${String(s.offered).padStart(6)}/s offered: ${String(s.acceptedPerSecond).padStart(6)}/s accepted, failed ${fails}, ` +
    `ack p50 ${ms(s.ackUs.p50)} p99 ${ms(s.ackUs.p99)} ms, delivery p50 ${ms(s.deliveryUs.p50)} p99 ${ms(s.deliveryUs.p99)} ms, ` +
    `lost ${s.lost} dup ${s.duplicated}, load generator lag p99 ${s.loadgenLagP99Ms} ms${s.clean ? ' — clean' : ''}`
  )
}

function percentile(xs: number[], q: number): number {
  if (xs.length === 0) return 0
  xs.sort((a, b) => a - b)
  return xs[Math.min(xs.length - 1, Math.floor(xs.length * q))]!
}

const round1 = (x: number) => Math.round(x * 10) / 10
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
