import { readdirSync, statSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { AnyContract } from '../contract.ts'

/** File names taken for contract modules: `contract.ts` or `<name>.contract.ts`. */
const CONTRACT_FILE = /(^|\.)contract\.[cm]?[jt]s$/
const SKIPPED = new Set(['node_modules', 'dist', 'build', 'coverage'])

/** The contract module files under `dir`, sorted (node_modules and dot-folders skipped). */
export function contractFiles(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      if (name.startsWith('.') || SKIPPED.has(name)) continue
      const path = join(d, name)
      if (statSync(path).isDirectory()) walk(path)
      else if (CONTRACT_FILE.test(name)) out.push(path)
    }
  }
  walk(resolve(dir))
  return out
}

/** True for a value shaped like what `defineService` returns. */
export function isContract(v: unknown): v is AnyContract {
  const c = v as Partial<AnyContract> | null
  if (typeof c !== 'object' || c === null || typeof c.name !== 'string' || typeof c.version !== 'string') return false
  if (typeof c.methods !== 'object' || c.methods === null) return false
  return Object.values(c.methods).every((m) => typeof m?.input === 'object' && (typeof m.output === 'object' || typeof m.stream === 'object'))
}

/** Every contract the modules under `dir` export, with the file each came from (imported: they run). */
export async function loadContracts(dir: string): Promise<{ contract: AnyContract; file: string }[]> {
  const found: { contract: AnyContract; file: string }[] = []
  for (const file of contractFiles(dir)) {
    const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>
    for (const v of Object.values(mod))
      if (isContract(v) && !found.some((f) => f.contract === v)) found.push({ contract: v, file: relative(process.cwd(), file) })
  }
  return found
}
