/**
 * Summarises a Go CPU profile (pprof's gzipped protobuf, as nats-server's `prof_port` serves it at
 * /debug/pprof/profile): self and inclusive time by function. No Go toolchain needed: the few fields of
 * profile.proto it reads (sample, location, function, string_table) are decoded here.
 * Usage: npx tsx bench/pprof-summary.ts <file.pb.gz> [top=25]
 */
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'

/** One protobuf field: its number and either a varint or the bytes of a length-delimited value. */
interface Field {
  readonly n: number
  readonly int: number
  readonly bytes: Uint8Array | undefined
}

function varint(b: Uint8Array, at: { i: number }): number {
  let r = 0
  let mul = 1
  for (;;) {
    const c = b[at.i++]!
    r += (c & 0x7f) * mul
    if (c < 0x80) return r
    mul *= 128
  }
}

function* fields(b: Uint8Array): Generator<Field> {
  const at = { i: 0 }
  while (at.i < b.length) {
    const key = varint(b, at)
    const type = key & 7
    const n = Math.floor(key / 8)
    if (type === 0) yield { n, int: varint(b, at), bytes: undefined }
    else if (type === 2) {
      const len = varint(b, at)
      yield { n, int: 0, bytes: b.subarray(at.i, at.i + len) }
      at.i += len
    } else if (type === 1) at.i += 8
    else if (type === 5) at.i += 4
    else throw new Error(`pprof: wire type ${type} at ${at.i}`)
  }
}

/** A repeated integer field, packed or not. */
function ints(f: Field): number[] {
  if (f.bytes === undefined) return [f.int]
  const out: number[] = []
  const at = { i: 0 }
  while (at.i < f.bytes.length) out.push(varint(f.bytes, at))
  return out
}

/** Self and inclusive shares of the hottest functions of one Go CPU profile (`.pb.gz` or raw protobuf). */
export function summarizePprof(data: Uint8Array, top = 25): string {
  const b = data[0] === 0x1f && data[1] === 0x8b ? gunzipSync(data) : data
  const samples: { locs: number[]; value: number }[] = []
  const locFn = new Map<number, number>()
  const fnName = new Map<number, number>()
  const strings: string[] = []
  const text = new TextDecoder()
  for (const f of fields(b)) {
    if (f.n === 2 && f.bytes !== undefined) {
      let locs: number[] = []
      let values: number[] = []
      for (const g of fields(f.bytes)) {
        if (g.n === 1) locs = locs.concat(ints(g))
        else if (g.n === 2) values = values.concat(ints(g))
      }
      samples.push({ locs, value: values.at(-1) ?? 0 })
    } else if (f.n === 4 && f.bytes !== undefined) {
      let id = 0
      let fn: number | undefined
      for (const g of fields(f.bytes)) {
        if (g.n === 1) id = g.int
        // the first line of a location is its innermost (inlined) function
        else if (g.n === 4 && g.bytes !== undefined && fn === undefined) for (const h of fields(g.bytes)) if (h.n === 1) fn = h.int
      }
      if (fn !== undefined) locFn.set(id, fn)
    } else if (f.n === 5 && f.bytes !== undefined) {
      let id = 0
      let name = 0
      for (const g of fields(f.bytes)) {
        if (g.n === 1) id = g.int
        else if (g.n === 2) name = g.int
      }
      fnName.set(id, name)
    } else if (f.n === 6) strings.push(f.bytes === undefined ? '' : text.decode(f.bytes))
  }
  const nameOf = (loc: number) => strings[fnName.get(locFn.get(loc) ?? -1) ?? -1] ?? '?'
  const self = new Map<string, number>()
  const incl = new Map<string, number>()
  let total = 0
  for (const s of samples) {
    total += s.value
    const names = s.locs.map(nameOf)
    if (names[0] !== undefined) self.set(names[0], (self.get(names[0]) ?? 0) + s.value)
    for (const n of new Set(names)) incl.set(n, (incl.get(n) ?? 0) + s.value)
  }
  const short = (n: string) => n.replace('github.com/nats-io/nats-server/v2/server.', 'server.').replace('github.com/nats-io/nats-server/server.', 'server.')
  const list = (m: Map<string, number>) =>
    [...m]
      .sort((a, c) => c[1] - a[1])
      .slice(0, top)
      .map(([k, t]) => `${((100 * t) / Math.max(total, 1)).toFixed(1).padStart(5)}%  ${short(k)}`)
      .join('\n')
  return `${(total / 1e9).toFixed(2)} s of CPU sampled\n-- self time by function\n${list(self)}\n-- inclusive time by function\n${list(incl)}`
}

if (process.argv[1]?.endsWith('pprof-summary.ts')) {
  console.log(summarizePprof(readFileSync(process.argv[2]!), Number(process.argv[3] ?? 25)))
}
