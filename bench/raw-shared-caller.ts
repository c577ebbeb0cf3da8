import { createInbox, type Msg, type NatsConnection } from '@nats-io/nats-core'

/**
 * The "raw" baseline done well: one reply subscription and a map of pending calls, `publish` with `reply`.
 * No headers, no per-call timer: the bench loop bounds the run instead.
 */
export function rawSharedCaller(nc: NatsConnection): (subject: string, body: Uint8Array) => Promise<Msg> {
  const prefix = createInbox()
  const offset = prefix.length + 1
  const pending = new Map<string, (m: Msg) => void>()
  let seq = 0
  nc.subscribe(`${prefix}.*`, {
    callback: (err, msg) => {
      if (err !== null) return
      const token = msg.subject.slice(offset)
      const resolve = pending.get(token)
      if (resolve === undefined) return
      pending.delete(token)
      resolve(msg)
    },
  })
  return (subject, body) =>
    new Promise<Msg>((resolve) => {
      const token = (++seq).toString(36)
      pending.set(token, resolve)
      nc.publish(subject, body, { reply: `${prefix}.${token}` })
    })
}
