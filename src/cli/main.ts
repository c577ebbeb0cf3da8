import { readFileSync } from 'node:fs'
import { connect } from '@nats-io/transport-node'
import { type NatsConnection, nkeyAuthenticator, nkeys } from '@nats-io/nats-core'
import { Command, parseCli, USAGE, UsageError, type CliArgs } from './args.ts'
import { call, infoCmd, ls, pingCmd, statsCmd, type Io } from './commands.ts'
import { contracts } from './contracts.ts'

/** Exit codes of the CLI. */
export const ExitCode = { OK: 0, CALL_FAILED: 1, USAGE: 2, UNREACHABLE: 2 } as const

/** A NATS server the CLI cannot reach or log in to. */
export class UnreachableError extends Error {
  override name = 'UnreachableError'
  constructor(server: string, options: { cause: unknown }) {
    super(`cannot connect to NATS at ${server}: ${reason(options.cause)}`, options)
  }
}

function reason(err: unknown): string {
  const e = err as { code?: string; message?: string } | undefined
  const msg = e?.message ?? String(err)
  if (/ECONNREFUSED|CONNECTION_REFUSED/i.test(`${e?.code} ${msg}`)) return 'connection refused'
  return msg.split('\n')[0]!
}

const COMMANDS: Record<Exclude<Command, 'help' | 'contracts'>, (nc: NatsConnection, args: CliArgs, io: Io) => Promise<number>> = {
  ls,
  info: infoCmd,
  stats: statsCmd,
  ping: pingCmd,
  call,
}

/** The nkey user seed in `file` (--nkey); a UsageError naming the file when it cannot be read or holds none. */
function readSeed(file: string): Uint8Array {
  let seed: Uint8Array
  try {
    seed = new TextEncoder().encode(readFileSync(file, 'utf8').trim())
  } catch (err) {
    throw new UsageError(`cannot read the nkey seed ${file} (--nkey, NATS_NKEY): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  let key = ''
  try {
    key = nkeys.fromSeed(seed).getPublicKey()
  } catch {
    // not a seed at all: said below
  }
  if (!key.startsWith('U')) throw new UsageError(`${file} (--nkey, NATS_NKEY) holds no nkey user seed (one line, SU...)`)
  return seed
}

async function connectTo(args: CliArgs): Promise<NatsConnection> {
  const login = args.nkey === undefined ? { user: args.user, pass: args.password } : { authenticator: nkeyAuthenticator(readSeed(args.nkey)) }
  try {
    return await connect({
      servers: args.server,
      ...login,
      inboxPrefix: args.inboxPrefix,
      name: 'switchboard-cli',
      reconnect: false,
      timeout: 3_000,
    })
  } catch (err) {
    throw new UnreachableError(args.server, { cause: err })
  }
}

/** Runs the CLI; resolves with the exit code. Writes results to `io.out`, one-line errors to `io.err`. */
export async function main(argv: readonly string[], env: Record<string, string | undefined>, io: Io & { err(text: string): void }): Promise<number> {
  let args: CliArgs
  try {
    args = parseCli(argv, env)
  } catch (err) {
    io.err(`switchboard: ${(err as Error).message}\n${USAGE}`)
    return ExitCode.USAGE
  }
  if (args.command === Command.help) {
    io.out(USAGE)
    return ExitCode.OK
  }
  if (args.command === Command.contracts) {
    try {
      return await contracts(args, io)
    } catch (err) {
      io.err(`switchboard: ${(err as Error).message}`)
      return ExitCode.USAGE
    }
  }
  let nc: NatsConnection | undefined
  try {
    nc = await connectTo(args)
    return await COMMANDS[args.command](nc, args, io)
  } catch (err) {
    io.err(`switchboard: ${(err as Error).message}`)
    return err instanceof UnreachableError || err instanceof UsageError ? ExitCode.USAGE : ExitCode.UNREACHABLE
  } finally {
    await nc?.close().catch(() => undefined)
  }
}
