import { CallStats, type EndpointStats } from '../ops/call-stats.ts'
import { isStreamMethod, type MethodSpec } from '../contract.ts'
import type { CallContext } from './context.ts'
import type { MethodValidators } from '../validator.ts'

export type { EndpointStats } from '../ops/call-stats.ts'

/** One method as a worker serves it: its spec, validators, the composed chain and its counters. */
export class Endpoint extends CallStats {
  /** Whether the method answers with a stream (protocol §10). */
  readonly streamed: boolean

  constructor(
    readonly name: string,
    readonly subject: string,
    readonly queue: string,
    readonly spec: MethodSpec,
    readonly validators: MethodValidators,
    /** Middleware and handler: the result, or a promise of it when anything on the way is async. */
    readonly run: (ctx: CallContext<object>) => unknown,
  ) {
    super()
    this.streamed = isStreamMethod(spec)
  }

  stats(): EndpointStats {
    return this.report(this.name, this.subject, this.queue)
  }
}
