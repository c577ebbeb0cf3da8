import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on Linux). */
const TICKS_PER_S = 100

/**
 * CPU time (user + system, all threads) another process has used so far, in µs, read from /proc/<pid>/stat:
 * how the bench prices nats-server's share of a call. NaN where /proc is not there (not Linux) or the process is gone.
 */
export function processCpuUs(pid: number | undefined): number {
  if (pid === undefined) return NaN
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // fields after the command name (which is in parentheses and may hold spaces): utime is the 12th, stime the 13th
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / TICKS_PER_S
  } catch {
    return NaN
  }
}

/** Resident memory of a process, in KB (from /proc/<pid>/status); NaN when not readable. */
export async function rssKb(pid: number): Promise<number> {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))
    return m === null ? NaN : Number(m[1])
  } catch {
    return NaN
  }
}
