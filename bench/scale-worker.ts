/**
 * Worker process of bench:scale and bench:memory. argv: <natsUrl> <maxInFlight> [maxQueued] (the worker's default when absent).
 * Answers `usage` (calls served, CPU) and `memory` (RSS and heap after a full GC when run with --expose-gc).
 * Serves BenchEcho: `wait` (I/O-bound: awaits a timer) and `spin` (CPU-bound: a busy loop).
 */
import { connect } from '@nats-io/transport-node'
import { serve, silentLogger } from 'switchboard'
import { BenchEcho } from './echo-contract.ts'
import { rssMb, serveParent } from './parent-link.ts'

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** A deterministic busy loop of `iterations` steps. */
export function spin(iterations: number): number {
  let x = 0
  for (let i = 0; i < iterations; i++) x = (x + Math.sqrt(i * 7 + x)) % 1_000_003
  return x
}

{
  const [url, max, queued] = [process.argv[2]!, Number(process.argv[3]), process.argv[4] === undefined ? undefined : Number(process.argv[4])]
  const nc = await connect({ servers: url, name: 'bench-scale-worker' })
  let served = 0
  const worker = await serve(
    nc,
    BenchEcho,
    {
      echo: (input) => input,
      async wait({ ms }) {
        await sleep(ms)
        served++
        return { ok: true }
      },
      spin({ iterations }) {
        served++
        return { x: spin(iterations) }
      },
    },
    { maxInFlight: max, ...(queued === undefined ? {} : { maxQueued: queued }), logger: silentLogger },
  )
  serveParent(
    async (cmd) =>
      cmd.type === 'memory'
        ? { served, rssMb: rssMb(true), heapUsedMb: Math.round((process.memoryUsage().heapUsed / 1048576) * 10) / 10 }
        : { served, cpu: process.cpuUsage() },
    async () => {
      await worker.stop()
      await nc.close()
    },
  )
}
