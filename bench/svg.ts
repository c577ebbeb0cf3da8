import { writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

/** One bar series of a grouped bar chart. */
export interface Series {
  readonly name: string
  readonly color: string
  readonly values: readonly number[]
}

export interface BarChart {
  readonly title: string
  /** Lines under the title: command, machine. */
  readonly notes: readonly string[]
  readonly yLabel: string
  readonly groups: readonly string[]
  readonly series: readonly Series[]
  /** Optional dashed reference values, one per group (e.g. ideal speed-up). */
  readonly reference?: { readonly name: string; readonly values: readonly number[] }
  readonly format?: (v: number) => string
}

/** Palette for series, colour-blind friendly. */
export const COLORS = ['#9aa5b1', '#4c78a8', '#f58518', '#54a24b', '#b279a2', '#e45756']

const W = 820
const H = 460
const M = { top: 96, right: 24, bottom: 70, left: 72 }

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

function niceMax(v: number): number {
  const p = 10 ** Math.floor(Math.log10(Math.max(v, 1)))
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p
  return 10 * p
}

/** A grouped bar chart as a standalone SVG document (no dependencies). */
export function barChartSvg(c: BarChart): string {
  const fmt = c.format ?? ((v: number) => (v >= 1000 ? `${(v / 1000).toFixed(v >= 10_000 ? 0 : 1)}k` : String(Math.round(v * 100) / 100)))
  const all = [...c.series.flatMap((s) => s.values), ...(c.reference?.values ?? [])].filter(Number.isFinite)
  const max = niceMax(Math.max(...all) * 1.08)
  const pw = W - M.left - M.right
  const ph = H - M.top - M.bottom
  const y = (v: number) => M.top + ph - (v / max) * ph
  const gw = pw / c.groups.length
  const bw = Math.min(36, (gw * 0.8) / c.series.length)
  const out: string[] = []
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  )
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`)
  out.push(`<text x="${M.left}" y="24" font-size="16" font-weight="bold">${esc(c.title)}</text>`)
  for (const [i, n] of c.notes.entries()) out.push(`<text x="${M.left}" y="${42 + i * 14}" fill="#555" font-size="11">${esc(n)}</text>`)
  for (let i = 0; i <= 5; i++) {
    const v = (max * i) / 5
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e5e5"/>`)
    out.push(`<text x="${M.left - 6}" y="${y(v) + 4}" text-anchor="end" fill="#444">${esc(fmt(v))}</text>`)
  }
  out.push(`<text transform="translate(18 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle" fill="#444">${esc(c.yLabel)}</text>`)
  c.groups.forEach((g, gi) => {
    const x0 = M.left + gi * gw + (gw - bw * c.series.length) / 2
    c.series.forEach((s, si) => {
      const v = s.values[gi] ?? NaN
      if (!Number.isFinite(v)) return
      const x = x0 + si * bw
      out.push(
        `<rect x="${x.toFixed(1)}" y="${y(v).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${(M.top + ph - y(v)).toFixed(1)}" fill="${s.color}"><title>${esc(`${s.name} @ ${g}: ${fmt(v)}`)}</title></rect>`,
      )
      out.push(`<text x="${(x + bw / 2 - 1).toFixed(1)}" y="${(y(v) - 3).toFixed(1)}" text-anchor="middle" font-size="9" fill="#333">${esc(fmt(v))}</text>`)
    })
    const ref = c.reference?.values[gi]
    if (ref !== undefined && Number.isFinite(ref)) {
      out.push(`<line x1="${M.left + gi * gw + 4}" x2="${M.left + (gi + 1) * gw - 4}" y1="${y(ref)}" y2="${y(ref)}" stroke="#000" stroke-dasharray="4 3"/>`)
    }
    out.push(`<text x="${M.left + gi * gw + gw / 2}" y="${M.top + ph + 18}" text-anchor="middle">${esc(g)}</text>`)
  })
  out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${M.top + ph}" y2="${M.top + ph}" stroke="#333"/>`)
  const legend = [
    ...c.series.map((s) => ({ name: s.name, color: s.color, dash: false })),
    ...(c.reference ? [{ name: c.reference.name, color: '#000', dash: true }] : []),
  ]
  let lx = M.left
  for (const l of legend) {
    const ly = H - 22
    out.push(
      l.dash
        ? `<line x1="${lx}" x2="${lx + 14}" y1="${ly - 4}" y2="${ly - 4}" stroke="#000" stroke-dasharray="4 3"/>`
        : `<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${l.color}"/>`,
    )
    out.push(`<text x="${lx + 18}" y="${ly}">${esc(l.name)}</text>`)
    lx += 30 + l.name.length * 6.5
  }
  out.push('</svg>')
  return `${out.join('\n')}\n`
}

/** Writes a chart to docs/<file> and returns the path. */
export async function writeChart(file: string, chart: BarChart): Promise<string> {
  const url = new URL(`../docs/${file}`, import.meta.url)
  await writeFile(url, barChartSvg(chart))
  return fileURLToPath(url)
}
