// @ts-check
// The operations dashboard: renders the snapshots the gateway streams on /ops/events (services/ops/).
import { lineChart } from './chart.js'

/**
 * The element with id `id`; the page always has it.
 * @param {string} id
 * @returns {HTMLElement}
 */
const $ = (id) => {
  const e = document.getElementById(id)
  if (e === null) throw new Error(`the page has no #${id}`)
  return e
}
const el = (tag, cls, text) => {
  const e = document.createElement(tag)
  if (cls) e.className = cls
  if (text !== undefined) e.textContent = String(text)
  return e
}
const HISTORY_MS = 300_000
const MIN_SPAN_MS = 60_000
/** The charts span the history there is, from one minute up to five. */
const spanOf = (snap) => Math.min(HISTORY_MS, Math.max(MIN_SPAN_MS, snap.times.length ? snap.at - snap.times[0] : 0))

function row(cells, cls) {
  const tr = el('tr', cls)
  for (const c of cells) {
    const td = typeof c === 'object' && c !== null ? el('td', c.cls, c.text) : el('td', null, c)
    tr.append(td)
  }
  return tr
}

function table(head, rows) {
  const t = el('table')
  const tr = el('tr')
  for (const h of head) tr.append(el('th', h.startsWith('#') ? 'num' : null, h.replace(/^#/, '')))
  t.append(el('thead'), el('tbody'))
  t.tHead.append(tr)
  t.tBodies[0].append(...rows)
  return t
}

const num = (v, cls = 'num') => ({ text: v, cls })
const pct = (r) => (r === 0 ? '0 %' : `${(r * 100).toFixed(r < 0.1 ? 1 : 0)} %`)
const ms = (v) => (v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(2))
const since = (iso) => {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000))
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`
}

/** `where: detail` of each change of a mix. */
const changeLines = (mix) => mix.changes.map((c) => `${c.where}: ${c.detail}`)

/** The header badge of a service whose instances run more than one contract, or null. */
function mixBadge(mix) {
  if (!mix) return null
  const ok = mix.verdict === 'compatible'
  const label = ok ? 'compatible' : mix.verdict === 'breaking' ? 'INCOMPATIBLE' : 'unknown'
  const badge = el('span', `badge mix ${ok ? 'ok' : 'bad'}`, `mixed: ${label}`)
  const versions = mix.variants.map((v) => `${v.version} (${v.hash.slice(0, 8)}, ${v.instances.length})`).join(', ')
  badge.title = [`${mix.variants.length} contracts: ${versions}`, ...changeLines(mix)].join('\n')
  return badge
}

function service(s, snap) {
  const box = el('article', 'service')
  box.dataset.service = s.name
  const head = el('header')
  head.append(
    el('h3', null, s.name),
    el('span', 'desc', s.description),
    el('span', 'badge', `${s.instances.length} instance${s.instances.length === 1 ? '' : 's'} · v${s.versions.join(', v')}`),
  )
  const badge = mixBadge(s.mix)
  if (badge) head.append(badge)
  const changes = el('ul', 'mix-changes')
  if (s.mix && s.mix.verdict !== 'compatible') changes.append(...changeLines(s.mix).map((line) => el('li', null, line)))
  const chart = el('div', 'chart')
  lineChart(
    chart,
    snap.times,
    [
      { values: s.rate, cls: 'req' },
      { values: s.errorRate, cls: 'err' },
    ],
    { spanMs: spanOf(snap), height: 56 },
  )
  const instances = table(
    ['instance', 'version', 'contract', 'up', '#reply ms', '#requests', '#errors'],
    s.instances.map((i) => {
      const extra = i.metadata.connections !== undefined ? ` · ${i.metadata.connections} connections` : ''
      const tr = row(
        [
          i.id + extra + (i.stale ? ' (missed last poll)' : ''),
          i.version,
          { text: i.contractHash ? i.contractHash.slice(0, 8) : '-', cls: 'hash' },
          since(i.started),
          num(i.rtt.toFixed(1)),
          num(i.requests),
          num(i.errors, i.errors > 0 ? 'num bad' : 'num'),
        ],
        i.stale ? 'stale' : '',
      )
      tr.dataset.instance = i.id
      return tr
    }),
  )
  instances.classList.add('instances')
  const methods = table(
    ['method', '#requests', '#errors', '#req/s', '#error rate', '#avg ms', 'last error'],
    s.methods.map((m) => {
      const tr = row([
        m.name,
        num(m.requests),
        num(m.errors),
        num(m.rate.toFixed(2)),
        num(pct(m.errorRatio), m.errorRatio > 0 ? 'num bad' : 'num'),
        num(ms(m.avgMs)),
        m.lastError,
      ])
      tr.dataset.method = m.name
      tr.dataset.requests = String(m.requests)
      return tr
    }),
  )
  methods.classList.add('methods')
  box.append(head)
  if (changes.childElementCount > 0) box.append(changes)
  box.append(chart, instances, methods)
  return box
}

function render(snap) {
  const instances = snap.services.reduce((n, s) => n + s.instances.length, 0)
  const rate = snap.rate.length ? snap.rate[snap.rate.length - 1] : 0
  $('summary').textContent =
    `${snap.services.length} services · ${instances} instances · ${rate.toFixed(1)} req/s · polled ${new Date(snap.at).toLocaleTimeString()}`
  lineChart(
    $('overall-chart'),
    snap.times,
    [
      { values: snap.rate, cls: 'req' },
      { values: snap.errorRate, cls: 'err' },
    ],
    { spanMs: spanOf(snap), height: 90, width: 900 },
  )
  $('span').textContent = `last ${Math.round(spanOf(snap) / 60_000)} min`
  $('services').replaceChildren(...snap.services.map((s) => service(s, snap)))
  document.body.dataset.polls = String(snap.polls)
}

const events = new EventSource('/ops/events')
events.onopen = () => {
  $('status').dataset.state = 'online'
  $('status').textContent = 'live'
  $('error').hidden = true
}
events.onmessage = (e) => render(JSON.parse(e.data))
events.onerror = () => {
  $('status').dataset.state = 'offline'
  $('status').textContent = 'reconnecting…'
  $('error').textContent = 'Lost the connection to the gateway. Reconnecting…'
  $('error').hidden = false
}
