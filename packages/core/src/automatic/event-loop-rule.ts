import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import { FireGate } from './fire-gate.js'
import type { AutomaticRule, Breach } from './rule.js'
import type { ResolvedEventLoopTrigger } from './trigger-options.js'

/** Sampling resolution of the delay monitor, in ms: fine enough for thresholds of tens of ms. */
const RESOLUTION_MS = 10

/**
 * Event-loop delay: the p99 of `perf_hooks.monitorEventLoopDelay` over each window. The histogram is read and
 * reset once a window has passed, so each verdict covers exactly one window.
 */
export class EventLoopRule implements AutomaticRule {
  readonly type = 'eventloop' as const
  readonly name = 'event-loop delay'
  readonly gate: FireGate
  private readonly histogram: IntervalHistogram
  private windowStart: number
  private lastP99Ms: number | undefined

  constructor(
    private readonly trigger: ResolvedEventLoopTrigger,
    now: number,
  ) {
    this.gate = new FireGate(trigger.cooldownMs, trigger.maxCaptures)
    this.histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
    this.histogram.enable()
    this.windowStart = now
  }

  observe(now: number): { breach: Breach | undefined; observed: Record<string, unknown> } {
    if (now - this.windowStart >= this.trigger.windowMs) {
      this.lastP99Ms = this.histogram.count > 0 ? this.histogram.percentile(99) / 1e6 : 0
      this.histogram.reset()
      this.windowStart = now
      if (this.lastP99Ms > this.trigger.thresholdMs) {
        return {
          observed: this.observed(),
          breach: {
            reason:
              `event-loop delay p99 ${Math.round(this.lastP99Ms)}ms > ${this.trigger.thresholdMs}ms ` +
              `(window ${Math.round(this.trigger.windowMs / 1000)}s)`,
            kind: this.trigger.capture.kind,
            durationMs: this.trigger.capture.durationMs,
          },
        }
      }
    }
    return { breach: undefined, observed: this.observed() }
  }

  dispose(): void {
    this.histogram.disable()
  }

  private observed(): Record<string, unknown> {
    return { lastWindowP99Ms: this.lastP99Ms === undefined ? null : Math.round(this.lastP99Ms * 10) / 10 }
  }
}
