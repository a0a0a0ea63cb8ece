import type { CaptureKind, CaptureRequestInfo, CaptureSloInfo, TriggerType } from '../types.js'
import type { FireGate } from './fire-gate.js'

/** What a rule found wrong, and what to capture about it. */
export interface Breach {
  /** For people: `p99 412ms > 250ms on GET /users/:id (window 60s, n=1834)`. */
  reason: string
  kind: CaptureKind
  /** Absent for a heap snapshot, which is instant. */
  durationMs?: number
  request?: CaptureRequestInfo
  slo?: CaptureSloInfo
}

/** An automatic trigger: looks at the process on every evaluation tick, and says when to capture. */
export interface AutomaticRule {
  readonly name: string
  readonly type: Extract<TriggerType, 'slo' | 'eventloop' | 'heap'>
  readonly gate: FireGate
  /** The breach, if the rule is breached now; `observed` is what status shows either way. */
  observe(now: number): { breach: Breach | undefined; observed: Record<string, unknown> }
  /** Called after the rule fired (or would have, in dry run). */
  fired?(): void
  dispose?(): void
}
