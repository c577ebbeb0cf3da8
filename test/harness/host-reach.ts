import { connect, createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { spawnInNetns } from './host-process.ts'
import type { SpawnedProcess } from './process.ts'

/**
 * How the test process, in the machine's own namespace, reaches the simulated hosts without giving that namespace
 * an address or a route: `forward(address, port)` listens on 127.0.0.1 in the test process, and sends every
 * connection over a Unix socket (a file, reachable from every network namespace) to the relay
 * (test/harness/host-relay.ts) running in the switch namespace, which dials `address:port` across the bridge. The
 * test's connections therefore enter the simulated network where a client machine on the switch would, and are cut
 * by a host's `linkDown()` like any other traffic to it.
 */
export interface Reach {
  /** The relay process (in the switch namespace). */
  readonly relay: SpawnedProcess
  /** A port on 127.0.0.1 whose connections reach `address:port` (198.18.0.0/15) from the switch; one per target. */
  forward(address: string, port: number): Promise<number>
  /** Closes the loopback listeners and every connection through them (the relay ends with its namespace). */
  close(): Promise<void>
}

/** Starts the relay in `netns` with its socket in `dir`, and resolves once it listens. */
export async function startReach(netns: string, dir: string): Promise<Reach> {
  const socketPath = join(dir, 'relay.sock')
  const relay = spawnInNetns(netns, process.execPath, ['--import', 'tsx', 'test/harness/host-relay.ts', socketPath], { name: `relay in ${netns}` })
  await relay.waitFor(/^ready/, 20_000)
  const listeners = new Map<string, Promise<{ server: Server; port: number }>>()
  const sockets = new Set<Socket>()
  const track = (s: Socket) => {
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
  }
  const listen = (target: string) =>
    new Promise<{ server: Server; port: number }>((resolve, reject) => {
      const server = createServer((down) => {
        const up = connect(socketPath)
        track(down)
        track(up)
        const close = () => {
          down.destroy()
          up.destroy()
        }
        up.write(`${target}\n`)
        down.pipe(up)
        up.pipe(down)
        for (const s of [down, up]) {
          s.on('error', close)
          s.on('close', close)
        }
      })
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port }))
    })
  return {
    relay,
    async forward(address, port) {
      const target = `${address}:${port}`
      let l = listeners.get(target)
      if (l === undefined) listeners.set(target, (l = listen(target)))
      return (await l).port
    },
    async close() {
      for (const s of sockets) s.destroy()
      const all = await Promise.allSettled(listeners.values())
      await Promise.all(all.map((r) => (r.status === 'fulfilled' ? new Promise<void>((resolve) => r.value.server.close(() => resolve())) : undefined)))
      listeners.clear()
    },
  }
}
