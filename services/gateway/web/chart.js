// @ts-check
// A tiny inline-SVG line chart: no library, no build step.
const NS = 'http://www.w3.org/2000/svg'

const node = (tag, attrs) => {
  const e = document.createElementNS(NS, tag)
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v))
  return e
}

/**
 * Draws `series` (arrays of numbers, same length; [{ values, cls }]) over `times` (epoch ms) spanning `spanMs`,
 * into `box` (replacing its content). The y axis starts at 0 and ends at a round maximum.
 */
export function lineChart(box, times, series, { width = 320, height = 70, spanMs = 300_000, unit = '/s' } = {}) {
  const svg = node('svg', { viewBox: `0 0 ${width} ${height}`, width: '100%', height, preserveAspectRatio: 'none', role: 'img' })
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values)))
  const end = times.length ? times[times.length - 1] : Date.now()
  const x = (t) => width - ((end - t) / spanMs) * width
  const y = (v) => height - 2 - (v / max) * (height - 14)
  svg.append(node('line', { x1: 0, x2: width, y1: y(0), y2: y(0), class: 'axis' }))
  svg.append(node('line', { x1: 0, x2: width, y1: y(max), y2: y(max), class: 'grid' }))
  const label = node('text', { x: 2, y: 10, class: 'label' })
  label.textContent = `${max}${unit}`
  svg.append(label)
  for (const s of series) {
    if (s.values.length === 0) continue
    const pts = s.values.map((v, i) => `${x(times[i]).toFixed(1)},${y(v).toFixed(1)}`)
    svg.append(node('polyline', { points: pts.join(' '), class: `line ${s.cls}`, fill: 'none' }))
  }
  const title = node('title', {})
  title.textContent = series.map((s) => `${s.cls}: ${s.values.length ? s.values[s.values.length - 1] : 0}${unit} now`).join(', ')
  svg.append(title)
  box.replaceChildren(svg)
}

function niceMax(v) {
  if (v <= 1) return 1
  const p = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p
  return 10 * p
}
