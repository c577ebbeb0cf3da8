import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { diffSnapshots, overallVerdict, Verdict, type ServiceDiff } from '../evolution/contract-diff.ts'
import { formatSnapshot, parseSnapshot, snapshotOf, type ContractsSnapshot } from '../evolution/snapshot.ts'
import { UsageError, type CliArgs } from './args.ts'
import { loadContracts } from './load-contracts.ts'
import type { Io } from './commands.ts'

/** Exit codes of `contracts diff` and `contracts check`. */
export const ContractsExit = { OK: 0, BREAKING: 1, UNKNOWN: 2 } as const

/** `contracts snapshot|diff|check`: the contract evolution commands (no NATS needed). */
export async function contracts(args: CliArgs, io: Io): Promise<number> {
  const [sub, ...rest] = args.positionals
  if (sub === 'snapshot') return snapshot(args, io)
  if (sub === 'diff') return diff(rest, args, io)
  if (sub === 'check') return check(args, io)
  throw new UsageError(`contracts needs snapshot, diff or check${sub === undefined ? '' : `, got '${sub}'`}`)
}

async function current(dir: string): Promise<ContractsSnapshot> {
  const found = await loadContracts(dir)
  if (found.length === 0) throw new UsageError(`no contracts found under ${dir} (files named contract.ts or *.contract.ts)`)
  return snapshotOf(found.map((f) => f.contract))
}

async function snapshot(args: CliArgs, io: Io): Promise<number> {
  const s = await current(args.dir)
  const text = formatSnapshot(s)
  if (args.out === undefined) io.out(text.trimEnd())
  else {
    writeFileSync(args.out, text)
    io.out(`wrote ${args.out}: ${Object.keys(s.contracts).length} contracts`)
  }
  return ContractsExit.OK
}

function readText(path: string): string {
  if (!existsSync(path)) throw new UsageError(`${path}: no such file`)
  return readFileSync(path, 'utf8')
}

const read = (path: string): ContractsSnapshot => parseSnapshot(readText(path), path)

async function diff(files: readonly string[], args: CliArgs, io: Io): Promise<number> {
  if (files.length !== 2) throw new UsageError('contracts diff needs two snapshot files: OLD NEW')
  const diffs = diffSnapshots(read(files[0]!), read(files[1]!))
  if (args.json) io.out(JSON.stringify(diffs, null, 2))
  else io.out(diffs.length === 0 ? 'no changes' : render(diffs))
  return exitOf(diffs)
}

async function check(args: CliArgs, io: Io): Promise<number> {
  if (!existsSync(args.lock)) {
    io.out(`${args.lock} is missing: write it with \`switchboard contracts snapshot --out ${args.lock}\` and commit it`)
    return ContractsExit.BREAKING
  }
  const text = readText(args.lock)
  const lock = parseSnapshot(text, args.lock)
  const now = await current(args.dir)
  if (formatSnapshot(now) === text) {
    io.out(`contracts match ${args.lock} (${Object.keys(now.contracts).length} contracts)`)
    return ContractsExit.OK
  }
  const diffs = diffSnapshots(lock, now)
  io.out(render(diffs))
  const short = diffs.filter((d) => !d.enough)
  for (const d of short) io.out(`${d.service}: these changes need version ${d.suggested} or later (it is ${d.to}, the lock has ${d.from})`)
  io.out(`${args.lock} is out of date: after a review, write it again with \`switchboard contracts snapshot --out ${args.lock}\``)
  return ContractsExit.BREAKING
}

function exitOf(diffs: readonly ServiceDiff[]): number {
  const v = overallVerdict(diffs)
  return v === Verdict.breaking ? ContractsExit.BREAKING : v === Verdict.unknown ? ContractsExit.UNKNOWN : ContractsExit.OK
}

/** A diff for people: per service its version move, then one line per change with its verdict and bump. */
export function render(diffs: readonly ServiceDiff[]): string {
  const lines: string[] = []
  for (const d of diffs) {
    const move = d.from === undefined ? `(new) ${d.to}` : d.to === undefined ? `${d.from} (removed)` : `${d.from} -> ${d.to}`
    lines.push(`${d.service} ${move}: needs a ${d.needs} bump, has ${d.has}${d.enough ? '' : ` - not enough: ${d.suggested} at least`}`)
    for (const c of d.changes) lines.push(`  ${c.verdict.padEnd(10)}  ${c.bump.padEnd(5)}  ${c.where}: ${c.detail}`)
  }
  return lines.join('\n')
}
