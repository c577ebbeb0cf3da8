/**
 * Switchboard's public API: contracts, workers, typed clients, their options and errors, and what operations need
 * (discovery, logging, metrics and trace options). What tests and benchmarks reach for beyond this is in
 * `switchboard/internal` (src/internal.ts); services/ and user code import only from here.
 */
export { SystemCode, OK, RETRYABLE_CODES, isSystemCode } from './codes.ts'
export { RpcError, systemError, isRpcError } from './rpc-error.ts'
export { defineService, NAME_PATTERN, isStreamMethod } from './contract.ts'
export type {
  AnyContract,
  Contract,
  DeclaredCode,
  DeclaredData,
  ErrorCodeOf,
  ErrorSpec,
  InputOf,
  ItemOf,
  MethodError,
  MethodName,
  MethodSpec,
  MethodsSpec,
  OutputOf,
  StreamMethodSpec,
  UnaryMethodSpec,
} from './contract.ts'
export type { Issue } from './validator.ts'
export { compose } from './compose.ts'
export type { Middleware } from './compose.ts'
export { stderrLogger, silentLogger } from './logger.ts'
export type { Logger, LogLevel } from './logger.ts'

export { encodeBody, decodeBody, decodeEnvelope, MAX_DEPTH } from './wire/codec.ts'
export type { Envelope } from './wire/codec.ts'
export { Header } from './wire/headers.ts'
export type { HeaderRecord } from './wire/headers.ts'

export { client } from './client/client.ts'
export type { CallOptions, Client } from './client/client.ts'
export type { ClientContext } from './client/call.ts'
export { resolveClientOptions, DEFAULT_CLIENT_OPTIONS } from './client/client-options.ts'
export type { ClientMiddleware, ClientOptions, ResolvedClientOptions } from './client/client-options.ts'
export { DEFAULT_RETRY } from './client/retry.ts'
export type { RetryOptions } from './client/retry.ts'
export { DEFAULT_BALANCE } from './client/balancer.ts'
export type { BalanceOptions } from './client/balancer.ts'
export { DEFAULT_SKEW } from './client/skew-watch.ts'
export type { SkewOptions } from './client/skew-watch.ts'
export type { RpcStream } from './client/stream-call.ts'
export { DEFAULT_STREAM, resolveStreamOptions } from './client/stream-options.ts'
export type { StreamOptions } from './client/stream-options.ts'

export { serve, Worker } from './worker/worker.ts'
export type { Handler, Handlers } from './worker/worker.ts'
export { resolveWorkerOptions, DEFAULT_WORKER_OPTIONS } from './worker/worker-options.ts'
export type { ResolvedWorkerOptions, WorkerMiddleware, WorkerOptions } from './worker/worker-options.ts'
export { CallContext } from './worker/context.ts'
export type { HandlerContext } from './worker/context.ts'

export { CallStats } from './ops/call-stats.ts'
export type { EndpointStats } from './ops/call-stats.ts'
export { MicroType, MicroVerb, MicroMeta, SRV_PREFIX, microSubject } from './ops/micro.ts'
export type { MicroEndpointInfo, MicroIdentity, MicroInfo, MicroStats } from './ops/micro.ts'
export { discover, byService } from './ops/discover.ts'
export type { DiscoverOptions, Found } from './ops/discover.ts'
export { Skew, skewOf, mixOf, snapshotFromInfo, publishedSnapshot } from './ops/skew.ts'
export type { ServiceMix, SkewReport } from './ops/skew.ts'
export { parseTraceparent, formatTraceparent, otelRegistered } from './ops/trace.ts'
export type { TraceMode, TraceParent } from './ops/trace.ts'
export type { MetricsOptions, MetricsServer } from './ops/metrics.ts'
export { pinoLogger, levelFromEnv, REDACT_PATHS } from './ops/pino-logger.ts'
export type { LevelLogger, PinoLoggerOptions } from './ops/pino-logger.ts'

export { snapshotContract, snapshotOf, parseSnapshot, formatSnapshot, SnapshotError, SNAPSHOT_FORMAT } from './evolution/snapshot.ts'
export type { ContractSnapshot, ContractsSnapshot, MethodSnapshot } from './evolution/snapshot.ts'
export { diffSnapshots, diffService, overallVerdict, verdictOf, Verdict } from './evolution/contract-diff.ts'
export { fingerprintOf, methodHash, contractHash } from './evolution/fingerprint.ts'
export type { ContractFingerprint } from './evolution/fingerprint.ts'
export type { Change, ServiceDiff } from './evolution/contract-diff.ts'
export { subsetFindings, subsetOf, Subset } from './evolution/schema-subset.ts'
export type { Finding } from './evolution/schema-subset.ts'
export { Bump, bumpBetween, enoughBump, requiredVersion, VersionError } from './evolution/semver.ts'
export type { VersionChange } from './evolution/semver.ts'
export type { JsonSchema } from './evolution/canonical.ts'
