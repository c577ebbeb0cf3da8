/**
 * Summarises V8 .cpuprofile files (from `node --cpu-prof`): self time by function and by package/file.
 * Usage: npx tsx bench/cpuprofile-summary.ts <file.cpuprofile> [top=25]
 */
import { readFileSync } from 'node:fs'

interface Node {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
  children?: number[]
}

/** Self-time shares of the hottest functions and files of one profile. */
export function summarizeProfile(path: string, top = 25): string {
  const prof = JSON.parse(readFileSync(path, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] }
  const self = new Map<number, number>()
  prof.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0))
  })
  const total = [...self.values()].reduce((a, b) => a + b, 0)
  const byFn = new Map<string, number>()
  const byFile = new Map<string, number>()
  for (const n of prof.nodes) {
    const t = self.get(n.id) ?? 0
    const url = n.callFrame.url
      .replace(/^file:\/\//, '')
      .replace(/.*node_modules\//, '~/')
      .replace(/.*\/main\//, '')
    const fn = `${n.callFrame.functionName || '(anon)'} ${url}:${n.callFrame.lineNumber + 1}`
    byFn.set(fn, (byFn.get(fn) ?? 0) + t)
    const file = url === '' ? `(${n.callFrame.functionName})` : url
    byFile.set(file, (byFile.get(file) ?? 0) + t)
  }
  // inclusive time of every function (a frame counted once per sample path)
  const parent = new Map<number, number>()
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const byId = new Map(prof.nodes.map((n) => [n.id, n]))
  const incl = new Map<string, number>()
  for (const [id, t] of self) {
    const seen = new Set<string>()
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame
      const key = `${f.functionName || '(anon)'} ${f.url.replace(/.*node_modules\//, '~/').replace(/.*\/main\//, '')}:${f.lineNumber + 1}`
      if (seen.has(key)) continue
      seen.add(key)
      incl.set(key, (incl.get(key) ?? 0) + t)
    }
  }
  const pct = (t: number) => `${((100 * t) / total).toFixed(1).padStart(5)}%`
  const list = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, t]) => `${pct(t)}  ${k}`)
      .join('\n')
  return `${path}: ${(total / 1e6).toFixed(2)} s sampled\n-- self time by function\n${list(byFn)}\n-- self time by file\n${list(byFile)}\n-- inclusive time by function\n${list(incl)}`
}

if (process.argv[1]?.endsWith('cpuprofile-summary.ts')) {
  console.log(summarizeProfile(process.argv[2]!, Number(process.argv[3] ?? 25)))
}
