import { randomFillSync } from 'node:crypto'
import {
  context,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api'
import { isSystemCode, OK, SystemCode } from '../codes.ts'

/** Whether calls carry W3C trace context: always, never, or only while an OpenTelemetry SDK is registered. */
export type TraceMode = boolean | 'auto'

/** The parts of a W3C `traceparent` header. */
export interface TraceParent {
  readonly traceId: string
  readonly spanId: string
  /** Two hex digits; `01` is sampled. */
  readonly flags: string
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/
const ZERO_TRACE = '0'.repeat(32)
const ZERO_SPAN = '0'.repeat(16)

/** Parses a `traceparent` header; `undefined` when absent or malformed (W3C: then start a new trace). */
export function parseTraceparent(value: string | undefined): TraceParent | undefined {
  if (value === undefined) return undefined
  const m = TRACEPARENT.exec(value.trim())
  if (m === null || m[1] === 'ff' || (m[1] === '00' && m[5] !== undefined)) return undefined
  if (m[2] === ZERO_TRACE || m[3] === ZERO_SPAN) return undefined
  return { traceId: m[2]!, spanId: m[3]!, flags: m[4]! }
}

/** Formats a version-00 `traceparent`. */
export function formatTraceparent(t: TraceParent): string {
  return `00-${t.traceId}-${t.spanId}-${t.flags}`
}

const pool = Buffer.allocUnsafe(4096)
let poolAt = pool.length

/** `bytes` random bytes as lower-case hex, from a pooled buffer (one syscall per 4 KiB). */
export function randomHex(bytes: number): string {
  if (poolAt + bytes > pool.length) {
    randomFillSync(pool)
    poolAt = 0
  }
  const s = pool.toString('hex', poolAt, poolAt + bytes)
  poolAt += bytes
  return s
}

/**
 * Which OpenTelemetry RPC semantic conventions spans follow, from `OTEL_SEMCONV_STABILITY_OPT_IN` (read once per
 * client or worker): by default the experimental ones of semconv v1.37 (`rpc.system`, `rpc.service`, `rpc.method` =
 * the method); `rpc` switches to the stable ones (`rpc.system.name`, `rpc.method` = `<service>/<method>`,
 * `rpc.status_code`); `rpc/dup` emits both, where `rpc.method` takes the stable value.
 */
export interface RpcSemconv {
  readonly old: boolean
  readonly stable: boolean
}

export function rpcSemconv(optIn: string | undefined = process.env.OTEL_SEMCONV_STABILITY_OPT_IN): RpcSemconv {
  const values = new Set((optIn ?? '').split(',').map((v) => v.trim().toLowerCase()))
  if (values.has('rpc/dup')) return { old: true, stable: true }
  return values.has('rpc') ? { old: false, stable: true } : { old: true, stable: false }
}

/** Where a call goes, for span attributes: the NATS subject and, on the client side, the NATS server (`host:port`). */
export interface CallTarget {
  readonly subject?: string
  readonly server?: string
}

/**
 * True when a call ending with `code` is a failure of the server: a system code of 500 or more (INTERNAL,
 * UNIMPLEMENTED, UNAVAILABLE, DEADLINE_EXCEEDED). A refusal (a 4xx system code or a code the method declares) is the
 * answer the contract promises, so it marks the client span as failed, not the server span (as gRPC and HTTP do).
 */
export function serverFault(code: string): boolean {
  return isSystemCode(code) && SystemCode[code] >= 500
}

/** The span of one call (client or server side): its ids and, under OpenTelemetry, the real span. */
export class CallSpan {
  constructor(
    readonly traceId: string,
    readonly spanId: string,
    readonly parentSpanId: string | undefined,
    readonly flags: string,
    /** The OpenTelemetry span, when an SDK is registered. */
    readonly otel: Span | undefined = undefined,
    /** The context in which this span is active (to run the handler in). */
    readonly otelContext: Context | undefined = undefined,
    readonly kind: 'client' | 'server' = 'client',
    /** Also record the stable `rpc.status_code`. */
    readonly stable = false,
  ) {}

  /** The `traceparent` that makes this span the parent of the next hop. */
  get traceparent(): string {
    return `00-${this.traceId}-${this.spanId}-${this.flags}`
  }

  /**
   * Ends the span with the call's status code (`OK` or an error code): `rpc.switchboard.status` always; status ERROR,
   * `error.type` = the code and the error message as description when the call failed on this side (any error for a
   * client, a server fault for a worker); status left unset otherwise.
   */
  end(code: string, message?: string): void {
    const s = this.otel
    if (s === undefined) return
    s.setAttribute('rpc.switchboard.status', code)
    if (this.stable) s.setAttribute('rpc.status_code', code)
    if (code !== OK && (this.kind === 'client' || serverFault(code))) {
      s.setAttribute('error.type', code)
      s.setStatus(message === undefined || message === '' ? { code: SpanStatusCode.ERROR } : { code: SpanStatusCode.ERROR, message })
    }
    s.end()
  }
}

/** Starts call spans; made once per client or worker, used per call only when tracing is on. */
export interface Tracing {
  /** Starts a span as the child of `parent` (a `traceparent` value), or a new trace. */
  start(kind: 'client' | 'server', service: string, method: string, parent: string | undefined, target?: CallTarget): CallSpan
}

const plain: Tracing = {
  start(_kind, _service, _method, parent) {
    const p = parseTraceparent(parent)
    return new CallSpan(p?.traceId ?? randomHex(16), randomHex(8), p?.spanId, p?.flags ?? '01')
  },
}

/** The attributes a span starts with (those that sampling may look at). */
function startAttributes(kind: 'client' | 'server', service: string, method: string, semconv: RpcSemconv, target: CallTarget | undefined): Attributes {
  const a: Attributes = {}
  if (semconv.old) {
    a['rpc.system'] = 'switchboard'
    a['rpc.service'] = service
    a['rpc.method'] = method
  }
  if (semconv.stable) {
    a['rpc.system.name'] = 'switchboard'
    a['rpc.method'] = `${service}/${method}`
  }
  a['messaging.system'] = 'nats'
  if (target?.subject !== undefined) a['messaging.destination.name'] = target.subject
  if (kind === 'client' && target?.server !== undefined) {
    const at = target.server.lastIndexOf(':')
    const port = at < 0 ? Number.NaN : Number(target.server.slice(at + 1))
    if (Number.isInteger(port) && port > 0) {
      a['server.address'] = target.server.slice(0, at).replace(/^\[(.*)\]$/, '$1')
      a['server.port'] = port
    } else a['server.address'] = target.server
  }
  return a
}

function otelTracing(tracer: Tracer, semconv: RpcSemconv): Tracing {
  return {
    start(kind, service, method, parent, target) {
      const p = parseTraceparent(parent)
      const parentCtx =
        p !== undefined
          ? trace.setSpanContext(ROOT_CONTEXT, { traceId: p.traceId, spanId: p.spanId, traceFlags: parseInt(p.flags, 16), isRemote: true })
          : kind === 'client'
            ? context.active()
            : ROOT_CONTEXT
      const attributes = startAttributes(kind, service, method, semconv, target)
      const span = tracer.startSpan(`${service}/${method}`, { kind: kind === 'client' ? SpanKind.CLIENT : SpanKind.SERVER, attributes }, parentCtx)
      const sc = span.spanContext()
      const flags = (sc.traceFlags & 0xff).toString(16).padStart(2, '0')
      const parentSpanId = p?.spanId ?? trace.getSpanContext(parentCtx)?.spanId
      return new CallSpan(sc.traceId, sc.spanId, parentSpanId, flags, span, trace.setSpan(parentCtx, span), kind, semconv.stable)
    },
  }
}

const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate()

/** True when an OpenTelemetry SDK has registered a global tracer provider. */
export function otelRegistered(): boolean {
  const p = trace.getTracerProvider()
  return (p instanceof ProxyTracerProvider ? p.getDelegate() : p) !== NOOP_PROVIDER
}

/**
 * The tracing of a client or worker, decided once: OpenTelemetry spans when an SDK is registered and `mode` is not
 * false (their conventions from `OTEL_SEMCONV_STABILITY_OPT_IN`, see `rpcSemconv`); plain W3C ids when `mode` is true
 * without an SDK; `undefined` (no cost per call) otherwise.
 */
export function tracingFor(mode: TraceMode): Tracing | undefined {
  if (mode === false) return undefined
  if (otelRegistered()) return otelTracing(trace.getTracer('switchboard'), rpcSemconv())
  return mode === true ? plain : undefined
}

/** Runs `fn` with the span active, so OpenTelemetry instrumentation inside sees it as parent. */
export function runInSpan<T>(span: CallSpan, fn: () => T): T {
  return span.otelContext === undefined ? fn() : context.with(span.otelContext, fn)
}
