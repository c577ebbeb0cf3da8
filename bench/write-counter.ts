import { Socket } from 'node:net'

/**
 * Counts socket writes (one per nats.js flush) when BENCH_COUNT_WRITES=1, to show how well replies
 * and requests are batched per syscall. Off by default: it wraps net.Socket#write.
 */
let count = 0
if (process.env.BENCH_COUNT_WRITES === '1') {
  const write = Socket.prototype.write
  Socket.prototype.write = function (this: Socket, ...args: unknown[]) {
    count++
    return (write as (...a: unknown[]) => boolean).apply(this, args)
  } as typeof write
}

/** Socket writes so far (0 unless counting is on). */
export function socketWrites(): number {
  return count
}
