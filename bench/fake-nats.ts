import type { Msg, MsgHdrs, NatsConnection } from '@nats-io/nats-core'
import { MsgHdrsImpl } from '@nats-io/nats-core/internal'

type Callback = (err: Error | null, msg: Msg) => void

/**
 * Just enough of a NatsConnection for Caller and Worker to run in one process with no network: publish()
 * encodes headers exactly as nats.js does and hands the message to the subscriber of that subject on the
 * next microtask. Used by bench/inproc.ts to price the framework's own per-call work.
 */
export class FakeNats {
  readonly subs = new Map<string, Callback>()
  readonly info = { max_payload: 1_048_576, headers: true }
  readonly options = {}
  publish(subject: string, data: Uint8Array, opts?: { reply?: string; headers?: MsgHdrs }): void {
    const hdrBytes = opts?.headers === undefined ? undefined : (opts.headers as unknown as { encode(): Uint8Array }).encode()
    const cb = this.subs.get(subject) ?? this.subs.get(`${subject.slice(0, subject.lastIndexOf('.') + 1)}*`)
    if (cb === undefined) return
    const msg = fakeMsg(this, subject, data, opts?.reply, hdrBytes)
    queueMicrotask(() => cb(null, msg))
  }
  subscribe(subject: string, opts: { callback: Callback }) {
    this.subs.set(subject, opts.callback)
    return { drain: async () => {}, unsubscribe: () => {}, isClosed: () => false, closed: new Promise<void>(() => {}) }
  }
  async flush(): Promise<void> {}
  isClosed(): boolean {
    return false
  }
  status() {
    return { [Symbol.asyncIterator]: () => ({ next: () => new Promise<never>(() => {}) }) }
  }
  asConnection(): NatsConnection {
    return this as unknown as NatsConnection
  }
}

/** A received message as nats.js v3 builds it: raw header bytes + data, headers decoded lazily. */
function fakeMsg(nc: FakeNats, subject: string, data: Uint8Array, reply: string | undefined, hdr: Uint8Array | undefined): Msg {
  const rdata = hdr === undefined ? data : concat(hdr, data)
  let decoded: MsgHdrs | undefined
  return {
    subject,
    reply,
    _msg: { hdr: hdr === undefined ? -1 : hdr.length },
    _rdata: rdata,
    get headers() {
      if (hdr !== undefined && decoded === undefined) decoded = MsgHdrsImpl.decode(hdr)
      return decoded
    },
    get data() {
      return hdr === undefined ? rdata : rdata.subarray(hdr.length)
    },
    respond(body: Uint8Array, opts?: { headers?: MsgHdrs }) {
      if (reply === undefined) return false
      nc.publish(reply, body, opts)
      return true
    },
  } as unknown as Msg
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}
