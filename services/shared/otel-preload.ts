/**
 * An opt-in OpenTelemetry trace SDK for any process of the system (a worker, the gateway, a script), loaded before it
 * starts: `node --import tsx --import ./services/shared/otel-preload.ts services/worker.ts user`, or through
 * `NODE_OPTIONS="--import=tsx --import=<abs path>/services/shared/otel-preload.ts"`. With none of the variables
 * below set it does nothing, and Switchboard makes no spans (docs/operate.md, "Tracing").
 *
 * - `SWITCHBOARD_OTEL_FILE=<path>`: every finished span is appended to `<path>` at once, one JSON object a line
 *   (`SpanLine`); several processes may share a file. What test/interop/otel.test.ts reads.
 * - `OTEL_TRACES_EXPORTER=otlp` (or just `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`):
 *   spans go in batches to an OTLP/HTTP collector (Jaeger, the OpenTelemetry Collector, ...), configured by the
 *   standard `OTEL_EXPORTER_OTLP_*` variables (default http://localhost:4318/v1/traces); flushed on SIGTERM/SIGINT.
 *   `console` prints them. `OTEL_SDK_DISABLED=true` turns everything off.
 * - `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES`: the resource; `service.name` is by default the module of a worker
 *   (`services/worker.ts <module>`), `gateway` for the gateway, else the script's name.
 *
 * It registers a context manager on AsyncLocalStorage, so spans started inside a handler have the handler's span as
 * parent. It uses devDependencies (`@opentelemetry/sdk-trace` and friends); a production image that wants traces
 * installs them, or registers its own SDK (`@opentelemetry/sdk-node`) the same way.
 */
import { appendFileSync } from 'node:fs'
import { basename, dirname } from 'node:path'
import { context, trace, type HrTime } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { ExportResultCode, type ExportResult } from '@opentelemetry/core'
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources'
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
  type ReadableSpan,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace'

/** One finished span as `SWITCHBOARD_OTEL_FILE` holds it (times in ms since the epoch, fractional). */
export interface SpanLine {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly name: string
  /** `SpanKind`: 0 internal, 1 server, 2 client, 3 producer, 4 consumer. */
  readonly kind: number
  /** `SpanStatusCode`: 0 unset, 1 ok, 2 error. */
  readonly status: { readonly code: number; readonly message?: string }
  readonly attributes: Readonly<Record<string, unknown>>
  /** The resource's attributes (`service.name`, ...). */
  readonly resource: Readonly<Record<string, unknown>>
  readonly scope: string
  readonly startMs: number
  readonly endMs: number
  readonly pid: number
}

const ms = (t: HrTime) => t[0] * 1e3 + t[1] / 1e6

export function spanLine(s: ReadableSpan): SpanLine {
  const sc = s.spanContext()
  return {
    traceId: sc.traceId,
    spanId: sc.spanId,
    parentSpanId: s.parentSpanContext?.spanId,
    name: s.name,
    kind: s.kind,
    status: s.status,
    attributes: s.attributes,
    resource: s.resource.attributes,
    scope: s.instrumentationScope.name,
    startMs: ms(s.startTime),
    endMs: ms(s.endTime),
    pid: process.pid,
  }
}

/** Appends spans to `path` as JSON lines, synchronously: a span is on disk when `end()` returns, whatever follows. */
export class JsonLinesSpanExporter implements SpanExporter {
  constructor(readonly path: string) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    try {
      appendFileSync(this.path, spans.map((s) => `${JSON.stringify(spanLine(s))}\n`).join(''))
      done({ code: ExportResultCode.SUCCESS })
    } catch (err) {
      done({ code: ExportResultCode.FAILED, error: err as Error })
    }
  }

  async shutdown(): Promise<void> {}
}

/** The default `service.name`: the module of `services/worker.ts <module>`, `gateway`, or the script's name. */
function serviceName(argv: readonly string[]): string {
  const path = argv[1] ?? 'node'
  const script = basename(path).replace(/\.[cm]?[jt]s$/, '')
  if (script === 'worker' && argv[2] !== undefined) return argv[2]
  return script === 'main' ? basename(dirname(path)) : script
}

async function processors(env: NodeJS.ProcessEnv): Promise<SpanProcessor[]> {
  const out: SpanProcessor[] = []
  if (env.SWITCHBOARD_OTEL_FILE) out.push(new SimpleSpanProcessor({ exporter: new JsonLinesSpanExporter(env.SWITCHBOARD_OTEL_FILE) }))
  const otlpEndpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT
  const wanted = (env.OTEL_TRACES_EXPORTER ?? (otlpEndpoint ? 'otlp' : '')).split(',').map((v) => v.trim().toLowerCase())
  if (wanted.includes('otlp')) {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http')
    const delay = Number(env.OTEL_BSP_SCHEDULE_DELAY)
    out.push(new BatchSpanProcessor({ exporter: new OTLPTraceExporter(), scheduledDelayMillis: Number.isFinite(delay) && delay > 0 ? delay : 1_000 }))
  }
  if (wanted.includes('console')) out.push(new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() }))
  return out
}

/** Flushes on SIGTERM/SIGINT; the process's own handler (if any) still stops it, else the signal is raised again. */
function flushOnSignals(provider: TracerProvider): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const onSignal = () => {
      process.removeListener(signal, onSignal)
      const handled = process.listenerCount(signal) > 0
      void provider
        .forceFlush({ timeoutMillis: 2_000 })
        .catch(() => undefined)
        .finally(() => {
          if (!handled) process.kill(process.pid, signal)
        })
    }
    process.on(signal, onSignal)
  }
}

const env = process.env
const spanProcessors = env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true' ? [] : await processors(env)
if (spanProcessors.length > 0) {
  const resource = defaultResource()
    .merge(resourceFromAttributes({ 'service.name': serviceName(process.argv) }))
    .merge(detectResources({ detectors: [envDetector] }))
  const provider = new TracerProvider({ resource, spanProcessors })
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  trace.setGlobalTracerProvider(provider)
  if (spanProcessors.some((p) => p instanceof BatchSpanProcessor)) flushOnSignals(provider)
  process.once('beforeExit', () => void provider.shutdown().catch(() => undefined))
}
