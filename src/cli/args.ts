import { parseArgs } from 'node:util'

/** The commands of the `switchboard` CLI. */
export const Command = { ls: 'ls', info: 'info', stats: 'stats', ping: 'ping', call: 'call', contracts: 'contracts', help: 'help' } as const
export type Command = (typeof Command)[keyof typeof Command]

/** Parsed command line. */
export interface CliArgs {
  readonly command: Command
  readonly positionals: readonly string[]
  readonly server: string
  readonly user: string | undefined
  readonly password: string | undefined
  /** A file holding an nkey user seed to log in with (instead of a password). */
  readonly nkey: string | undefined
  readonly inboxPrefix: string | undefined
  readonly json: boolean
  readonly long: boolean
  readonly auth: string | undefined
  readonly timeout: number
  readonly wait: number
  readonly prefix: string
  /** contracts: where the contract modules are. */
  readonly dir: string
  /** contracts snapshot: the file to write (stdout without it). */
  readonly out: string | undefined
  /** contracts check: the committed snapshot. */
  readonly lock: string
}

/** Where `contracts` looks for contract modules, and the lock file it checks against. */
export const DEFAULT_CONTRACTS = { dir: 'services', lock: 'contracts.lock.json' } as const

export const DEFAULT_SERVER = 'nats://127.0.0.1:4222'

/** A bad command line; the CLI prints its message and exits with code 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

export const USAGE = `usage: switchboard <command> [options]

commands:
  ls                         services, instances, versions, uptime
  info <service>             methods with their schemas and declared errors
  stats <service>            per method and instance: requests, errors, processing times
  ping [service]             every instance that answers, with its round trip time
  call <service>.<method> [json]   call a method (msgpack, like a typed client); prints the reply envelope
  contracts snapshot [--out FILE]  every contract under --dir as one JSON file (stdout without --out)
  contracts diff OLD NEW     each change between two snapshots: compatible, breaking or unknown, and the bump it needs
  contracts check            the contracts under --dir against --lock: fails on any change the lock does not hold
                             or a version bump too small for it (docs/evolution.md)

options:
  -s, --server <url>         NATS server (env NATS_URL, default ${DEFAULT_SERVER})
      --user <name>          NATS user (env NATS_USER; with --nkey it only names the inbox)
      --password <secret>    NATS password (env NATS_PASS)
      --nkey <seed file>     log in with the nkey seed in this file instead of a password (env NATS_NKEY),
                             e.g. config/dev-creds/client.nk or <SWITCHBOARD_CREDS_DIR>/client.nk
      --inbox-prefix <p>     reply inbox prefix (env NATS_INBOX_PREFIX; default _INBOX_<user> with --user,
                             _INBOX_<name> with --nkey <dir>/<name>.nk, else _INBOX)
      --json                 machine-readable output
  -l, --long                 ls: one line per instance
      --auth <token>         call: sends Authorization: Bearer <token>
      --timeout <ms>         call: deadline of the call (default 5000)
      --wait <ms>            discovery: how long to wait for replies (default 1000)
      --prefix <prefix>      call: subject prefix (default rpc)
      --dir <path>           contracts: where contract modules are (contract.ts, *.contract.ts; default ${DEFAULT_CONTRACTS.dir})
      --out <file>           contracts snapshot: write here
      --lock <file>          contracts check: the committed snapshot (default ${DEFAULT_CONTRACTS.lock})

exit codes: 0 ok, 1 the call returned an error status, 2 usage or connection error;
contracts diff: 0 compatible, 1 a breaking change, 2 changes it cannot judge (and none breaking); check: 0 or 1 (2 on a usage error or an unreadable file)`

function positive(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number of ms, got '${raw}'`)
  return n
}

/** Per-user reply inboxes (`_INBOX_<user>`), as servers that keep users from reading each other's replies expect. */
function inboxPrefixFor(user: string | undefined): string | undefined {
  return user === undefined || user === '' ? undefined : `_INBOX_${user}`
}

/** The user a seed file is named after: `<name>` of `<dir>/<name>.nk` (a credentials directory holds one per role). */
function seedUser(file: string | undefined): string | undefined {
  return /(?:^|[\\/])([^\\/]+)\.nk$/.exec(file ?? '')?.[1]
}

/** The options the CLI takes (node:util parseArgs). */
const OPTIONS = {
  server: { type: 'string', short: 's' },
  user: { type: 'string' },
  password: { type: 'string' },
  nkey: { type: 'string' },
  'inbox-prefix': { type: 'string' },
  json: { type: 'boolean', default: false },
  long: { type: 'boolean', short: 'l', default: false },
  auth: { type: 'string' },
  timeout: { type: 'string' },
  wait: { type: 'string' },
  prefix: { type: 'string' },
  dir: { type: 'string' },
  out: { type: 'string' },
  lock: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const

function readArgv(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], allowPositionals: true, options: OPTIONS })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

/** Parses argv (without node and script) with the environment as fallback; throws UsageError. */
export function parseCli(argv: readonly string[], env: Record<string, string | undefined>): CliArgs {
  const { values: v, positionals } = readArgv(argv)
  const [first, ...rest] = positionals
  const command = v.help || first === undefined ? Command.help : first
  if (!Object.hasOwn(Command, command)) throw new UsageError(`unknown command '${command}'`)
  const user = v.user ?? env.NATS_USER
  const password = v.password ?? env.NATS_PASS
  const nkey = v.nkey ?? env.NATS_NKEY
  if (nkey !== undefined && password !== undefined) throw new UsageError('--nkey (NATS_NKEY) and --password (NATS_PASS) exclude each other: give one')
  return {
    command: command as Command,
    positionals: rest,
    server: v.server ?? env.NATS_URL ?? DEFAULT_SERVER,
    user,
    password,
    nkey,
    inboxPrefix: v['inbox-prefix'] ?? env.NATS_INBOX_PREFIX ?? inboxPrefixFor(user ?? seedUser(nkey)),
    json: v.json,
    long: v.long,
    auth: v.auth,
    timeout: positive('timeout', v.timeout, 5_000),
    wait: positive('wait', v.wait, 1_000),
    prefix: v.prefix ?? 'rpc',
    dir: v.dir ?? DEFAULT_CONTRACTS.dir,
    out: v.out,
    lock: v.lock ?? DEFAULT_CONTRACTS.lock,
  }
}
