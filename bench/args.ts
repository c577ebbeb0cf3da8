/** Command-line flags of a bench script: `--quick`, `--name value` or `--name=value`. */
const argv = process.argv.slice(2)

/** Whether `--name` was given. */
export function flag(name: string): boolean {
  return argv.includes(`--${name}`)
}

/** The value of `--name <v>` / `--name=<v>`, or `fallback`. */
export function option(name: string, fallback: string): string {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === `--${name}` && argv[i + 1] !== undefined) return argv[i + 1]!
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3)
  }
  return fallback
}

/** A numeric option. */
export function numberOption(name: string, fallback: number): number {
  const n = Number(option(name, String(fallback)))
  if (!Number.isFinite(n)) throw new TypeError(`--${name} must be a number`)
  return n
}

/** The exact command line, for the saved results. */
export function commandLine(script: string): string {
  return [`npm run ${script}`, ...(argv.length > 0 ? ['--', ...argv] : [])].join(' ')
}
