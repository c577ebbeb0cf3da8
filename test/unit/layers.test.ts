/**
 * The layering rule (docs/architecture.md, CONTRIBUTING.md), checked on the source: inside src/ a file imports only
 * from its own layer or the layers below it; services/ and examples/ use the public API (`switchboard`) only; tests
 * and benchmarks reach src/ only through `switchboard` or `switchboard/internal`.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'
import t from 'tap'
import { ROOT } from '../harness/process.ts'

/** The layers of src/, lowest first: a file may import from its layer and those before it. */
export const LAYERS = ['top', 'util', 'evolution', 'wire', 'ops', 'client', 'worker', 'cli'] as const
/** The barrels that gather the layers into the public and the internal API. */
const BARRELS = new Set(['src/index.ts', 'src/internal.ts'])

function files(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'results' ? [] : files(path)
    return /\.(ts|mjs|js)$/.test(e.name) ? [path] : []
  })
}

/** The module specifiers a file imports (static, re-exports and dynamic `import()`). */
export function importsOf(text: string): string[] {
  const out: string[] = []
  for (const m of text.matchAll(
    /(?:^|\n)\s*(?:import|export)\b[^'"]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g,
  )) {
    out.push((m[1] ?? m[2] ?? m[3])!)
  }
  return out
}

/** The layer of a file under src/. */
function layerOf(file: string): (typeof LAYERS)[number] {
  const parts = file.split('/')
  if (parts.length === 2) return 'top'
  const layer = parts[1] as (typeof LAYERS)[number]
  if (!LAYERS.includes(layer)) throw new Error(`${file} is in no known layer: add its folder to LAYERS and the docs`)
  return layer
}

/** Where a relative import of `file` points, from the repository root. */
const target = (file: string, spec: string) => normalize(join(dirname(file), spec))

t.test('layers - the import scanner sees every kind of import', async (t) => {
  const text = `import a from './a.ts'\nimport { b } from "../b.ts"\nexport { c } from './c.ts'\nimport type { D } from './d.ts'\nconst e = await import('./e.ts')\nimport './f.ts'\n`
  t.same(importsOf(text), ['./a.ts', '../b.ts', './c.ts', './d.ts', './e.ts', './f.ts'])
})

t.test('layers - inside src/ every import goes to the same layer or one below', async (t) => {
  const broken: string[] = []
  for (const file of files('src')) {
    if (BARRELS.has(file)) continue
    const rank = LAYERS.indexOf(layerOf(file))
    for (const spec of importsOf(readFileSync(join(ROOT, file), 'utf8'))) {
      if (spec === 'switchboard' || spec.startsWith('switchboard/')) broken.push(`${file} imports ${spec}: inside src/ import files, not the barrels`)
      if (!spec.startsWith('.')) continue
      const to = target(file, spec)
      if (!to.startsWith('src/')) broken.push(`${file} imports ${spec}, outside src/`)
      else if (BARRELS.has(to)) broken.push(`${file} imports the barrel ${to}`)
      else if (LAYERS.indexOf(layerOf(to)) > rank) broken.push(`${file} (${layerOf(file)}) imports ${to} (${layerOf(to)}), a layer above it`)
    }
  }
  t.same(broken, [], `layers, lowest first: ${LAYERS.join(' < ')}`)
})

t.test('layers - services/, scripts/ and examples/ use the public API only', async (t) => {
  const broken: string[] = []
  for (const file of [...files('services'), ...files('scripts'), ...files('examples')]) {
    for (const spec of importsOf(readFileSync(join(ROOT, file), 'utf8'))) {
      if (spec.startsWith('switchboard/')) broken.push(`${file} imports ${spec}: use 'switchboard'`)
      if (spec.startsWith('.') && relative('src', target(file, spec)).split('/')[0] !== '..') broken.push(`${file} imports ${spec}: use 'switchboard'`)
    }
  }
  t.same(broken, [])
})

t.test('layers - tests and benchmarks reach src/ only through switchboard or switchboard/internal', async (t) => {
  const broken: string[] = []
  for (const file of [...files('test'), ...files('bench')]) {
    for (const spec of importsOf(readFileSync(join(ROOT, file), 'utf8'))) {
      if (spec.startsWith('.') && target(file, spec).startsWith('src/')) broken.push(`${file} imports ${spec}`)
    }
  }
  t.same(broken, [])
})

t.test('layers - nothing in src/ imports services/, and services/ never import tests or benchmarks', async (t) => {
  const broken: string[] = []
  for (const file of [...files('src'), ...files('services')]) {
    for (const spec of importsOf(readFileSync(join(ROOT, file), 'utf8'))) {
      if (!spec.startsWith('.')) continue
      const to = target(file, spec)
      if (file.startsWith('src/') && to.startsWith('services/')) broken.push(`${file} imports ${to}`)
      if (/^(test|bench)\//.test(to)) broken.push(`${file} imports ${to}`)
    }
  }
  t.same(broken, [])
})
