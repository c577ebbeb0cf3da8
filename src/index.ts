export { SystemCode, OK, RETRYABLE_CODES, isSystemCode } from './codes.ts'
export { RpcError, systemError, isRpcError } from './rpc-error.ts'
export { defineService, NAME_PATTERN } from './contract.ts'
export type {
  AnyContract,
  Contract,
  DeclaredCode,
  DeclaredData,
  ErrorCodeOf,
  ErrorSpec,
  InputOf,
  MethodError,
  MethodName,
  MethodSpec,
  MethodsSpec,
  OutputOf,
} from './contract.ts'
export { client, resolveClientOptions, DEFAULT_CLIENT_OPTIONS } from './client.ts'
export type { CallOptions, Client, ClientContext, ClientMiddleware, ClientOptions, ResolvedClientOptions } from './client.ts'
export { serve, Worker } from './worker.ts'
export type { Handler, Handlers } from './worker.ts'
export { resolveWorkerOptions, DEFAULT_WORKER_OPTIONS } from './worker-options.ts'
export type { ResolvedWorkerOptions, WorkerMiddleware, WorkerOptions } from './worker-options.ts'
export { CallContext } from './context.ts'
export type { HandlerContext } from './context.ts'
export { CallStats } from './call-stats.ts'
export type { EndpointStats } from './call-stats.ts'
export { compose } from './compose.ts'
export type { Middleware } from './compose.ts'
export { Header } from './headers.ts'
export type { HeaderRecord } from './headers.ts'
export { DEFAULT_RETRY } from './retry.ts'
export type { RetryOptions } from './retry.ts'
export { stderrLogger, silentLogger } from './logger.ts'
export type { Logger, LogLevel } from './logger.ts'
export type { Issue } from './validator.ts'
export { encodeBody, decodeBody, decodeEnvelope, MAX_DEPTH } from './codec.ts'
export type { Envelope } from './codec.ts'
export { MicroType, MicroVerb, MicroMeta, SRV_PREFIX, pingOf, infoOf, statsOf, microSubject } from './micro.ts'
export type { MicroEndpointInfo, MicroHost, MicroIdentity, MicroInfo, MicroStats } from './micro.ts'
export { parseTraceparent, formatTraceparent, otelRegistered, CallSpan } from './trace.ts'
export type { TraceMode, TraceParent } from './trace.ts'
export type { MetricsOptions, MetricsServer } from './metrics.ts'
export { pinoLogger, levelFromEnv, REDACT_PATHS } from './log.ts'
export type { LevelLogger, PinoLoggerOptions } from './log.ts'
export { DEFAULT_BALANCE } from './balancer.ts'
export type { BalanceOptions } from './balancer.ts'
