/**
 * `switchboard/internal`: the public API plus the parts tests and benchmarks reach for (codec and msgpack, wire
 * headers and publisher, the request core, balancing, admission, validators, micro replies, metrics and traces).
 * Not a stable API: it follows the code. Tests and bench/ import from here or from `switchboard`, never a src/ file.
 */
export * from './index.ts'

export { ERROR_CODE_PATTERN } from './codes.ts'
export { resultSchemaOf } from './contract.ts'
export { validatorsOf, issuesOf, describeIssues } from './validator.ts'
export type { MethodValidators } from './validator.ts'
export { PendingTable } from './util/pending-table.ts'
export type { Tokened } from './util/pending-table.ts'

export { encodeOk, encodeFailure, decodeOkResult, NOT_OK } from './wire/codec.ts'
export type { Failure } from './wire/codec.ts'
export { MsgpackWriter } from './wire/msgpack/writer.ts'
export { MsgpackReader, KeyCache } from './wire/msgpack/reader.ts'
export { createDecoder } from './wire/msgpack/decoder.ts'
export type { KeyDecoder } from './wire/msgpack/decoder.ts'
export { WireHeaders, wireHeaders, readHeaders, fromMsgHdrs } from './wire/headers.ts'
export { publish, headersLength } from './wire/publisher.ts'
export { isInstanceId, methodSubject } from './wire/subjects.ts'
export {
  StreamHeader,
  STREAM_VERSION,
  Frame,
  Control,
  MISSED_BEATS,
  DEFAULT_HEARTBEAT_MS,
  MIN_HEARTBEAT_MS,
  MAX_HEARTBEAT_MS,
  FRAME_OVERHEAD,
  STREAM_TOKEN,
  controlBase,
  isControlSubject,
  frameHeaders,
  pullHeaders,
  itemsBody,
} from './wire/stream-frames.ts'
export { protocolOf, transportUp, inboxPrefixOf, subjectBytesOf, headerBytesOf, encodedHeadersOf } from './wire/nats-internals.ts'

export { createClient } from './client/client.ts'
export type { CallScope } from './client/client.ts'
export { Call, MAX_UNSERVED_RESENDS } from './client/call.ts'
export type { CallInit, CallSettings } from './client/call.ts'
export { Caller, callerOf, cancelled, Fate, DEFAULT_DEADLINE_SWEEP_MS, DEFAULT_PROBE_MS } from './client/caller.ts'
export type { ReplySink } from './client/caller.ts'
export { Balancer, Instance } from './client/balancer.ts'
export type { BalancerState, Probe } from './client/balancer.ts'
export { balancerOf } from './client/balancer-registry.ts'
export { SkewWatch, skewWatchOf } from './client/skew-watch.ts'
export { StreamCall, failedStream, MAX_PULLS } from './client/stream-call.ts'
export type { StreamSettings } from './client/stream-call.ts'
export { StreamInbox, streamInboxOf } from './client/stream-inbox.ts'
export type { InboxStream } from './client/stream-inbox.ts'
export { MAX_CREDIT } from './client/stream-options.ts'
export { backoff, attemptTimeout, sleep } from './client/retry.ts'

export { Admission, Refusal } from './worker/admission.ts'
export type { AdmissionHooks, AdmissionLimits, Queued } from './worker/admission.ts'
export { Backlog } from './worker/backlog.ts'
export { CallPipeline, parseDeadline } from './worker/pipeline.ts'
export { Responder } from './worker/responder.ts'
export { StreamSender } from './worker/stream-sender.ts'
export type { SenderDeps, SenderInit } from './worker/stream-sender.ts'
export { StreamTable } from './worker/stream-table.ts'
export type { StreamTableDeps } from './worker/stream-table.ts'
export { Endpoint } from './worker/endpoint.ts'
export { toFailure } from './worker/failure.ts'
export type { CallInfo, ContextHost, LiveContext } from './worker/context.ts'

export { pingOf, infoOf, statsOf, microSubjects, subscribeMicro, serviceMetadata, endpointMetadata } from './ops/micro.ts'
export type { MicroHost } from './ops/micro.ts'
export { ping, info, stats } from './ops/discover.ts'
export { RpcMetrics, MethodMetrics, MetricName, resolveMetricsOptions, serveMetrics, DEFAULT_METRICS_OPTIONS } from './ops/metrics.ts'
export type { ResolvedMetricsOptions } from './ops/metrics.ts'
export { CallSpan, tracingFor, runInSpan, randomHex } from './ops/trace.ts'
export type { Tracing } from './ops/trace.ts'
export { CallObserver, levelOn } from './ops/observer.ts'
export { main as cliMain } from './cli/main.ts'
