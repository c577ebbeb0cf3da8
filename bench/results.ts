import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { cpus, totalmem } from 'node:os'
import { fileURLToPath } from 'node:url'

/** The machine a run was made on, saved with every result. */
export function machine() {
  const c = cpus()
  return {
    cores: c.length,
    cpu: c[0]?.model ?? 'unknown',
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  }
}

const DIR = new URL('./results/', import.meta.url)

/** Today as YYYY-MM-DD (UTC). */
export function today(): string {
  return new Date().toISOString().slice(0, 10)
}

/** Writes bench/results/<name>-<date>[-quick].json and returns its path. */
export async function saveResult(name: string, quick: boolean, data: Record<string, unknown>): Promise<string> {
  await mkdir(DIR, { recursive: true })
  const file = new URL(`${name}-${today()}${quick ? '-quick' : ''}.json`, DIR)
  await writeFile(file, `${JSON.stringify({ name, date: new Date().toISOString(), quick, machine: machine(), ...data }, null, 2)}\n`)
  return fileURLToPath(file)
}

/** The newest saved full (not quick) result of a bench, if any. */
export async function latestResult(name: string): Promise<Record<string, unknown> | undefined> {
  // `<name>-<date>…`: chat-2026-12-03.json is a result of `chat`, chat-soak-2026-12-03.json is not
  const ofName = new RegExp(`^${name}-\\d{4}-\\d{2}-\\d{2}`)
  const files = (await readdir(DIR).catch(() => [] as string[])).filter((f) => ofName.test(f) && f.endsWith('.json') && !f.includes('quick')).sort()
  const last = files.at(-1)
  return last === undefined ? undefined : JSON.parse(await readFile(new URL(last, DIR), 'utf8'))
}
