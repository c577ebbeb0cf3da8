import type { LoopBounds } from './load.ts'

/** What one caller measures in one run. */
export interface RunPlan {
  readonly warmup: number
  readonly sequential: LoopBounds
  readonly levels: readonly number[]
  readonly level: LoopBounds
}
