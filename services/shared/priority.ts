import { readdirSync } from 'node:fs'
import { setPriority } from 'node:os'

/** The environment variable that sets a chat process's CPU niceness (-20 … 19; higher is lower priority). */
export const NICE_VAR = 'SWITCHBOARD_NICE'

/**
 * The niceness `npm start` (and bench:chat, which runs its layout) gives the module workers: below the gateway and
 * nats-server, which stay at 0. When the cores are full, the gateway's admission control (the 429s of its adaptive
 * limit) then still runs on time instead of waiting behind the modules' queued work (docs/benchmarks.md, fourth round).
 */
export const DEFAULT_WORKER_NICE = 10

/** The niceness `env` asks for, or undefined when it asks for none; throws a TypeError naming the variable on nonsense. Pure. */
export function niceFromEnv(env: Readonly<Record<string, string | undefined>>): number | undefined {
  const raw = env[NICE_VAR]
  if (raw === undefined || raw === '') return undefined
  const n = Number(raw)
  if (!(Number.isInteger(n) && n >= -20 && n <= 19)) throw new TypeError(`${NICE_VAR} must be an integer from -20 to 19, got '${raw}'`)
  return n
}

/**
 * Sets the niceness of every thread of this process (on Linux niceness is per thread, and V8's and libuv's threads
 * exist before any code runs; threads made later inherit it). Where /proc is not there, only the calling thread's.
 * Throws when the system refuses (a negative value without the privilege to raise priority).
 */
export function applyNice(nice: number): void {
  let tids: number[]
  try {
    tids = readdirSync('/proc/self/task').map(Number)
  } catch {
    return setPriority(nice)
  }
  for (const tid of tids) {
    try {
      setPriority(tid, nice)
    } catch (err) {
      // a thread that ended since the listing
      if ((err as { info?: { code?: string } }).info?.code !== 'ESRCH') throw err
    }
  }
}
