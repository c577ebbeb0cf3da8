import { connect as tcpConnect } from 'node:net'

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export const listening = (port: number): Promise<boolean> =>
  new Promise<boolean>((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port })
    s.once('connect', () => (s.destroy(), resolve(true)))
    s.once('error', () => resolve(false))
  })

/** Whether process `pid` exists (signal 0). */
export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
