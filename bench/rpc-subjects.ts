/** Subjects and prefixes shared by bench/rpc-responder.ts and bench/rpc-caller.ts. */
export const RAW_SUBJECT = 'raw.bench.echo'
export const PREFIX_VALIDATED = 'rpc'
export const PREFIX_UNVALIDATED = 'rpcnov'
/** Above the largest in-flight level so no call is refused for load. */
export const RESPONDER_MAX_IN_FLIGHT = 4_096

export const CALLER_KINDS = ['raw-request', 'raw-shared', 'switchboard'] as const
export type CallerKind = (typeof CALLER_KINDS)[number]
