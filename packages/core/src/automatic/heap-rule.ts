import { getHeapStatistics } from 'node:v8'
import { FireGate } from './fire-gate.js'
import type { AutomaticRule, Breach } from './rule.js'
import type { ResolvedHeapTrigger } from './trigger-options.js'

/**
 * Heap pressure: heap used above a fraction of V8's heap limit. The first fire may take a (guarded) heap
 * snapshot instead of a sampling profile, when `snapshotOnce` asks for one.
 */
export class HeapRule implements AutomaticRule {
  readonly type = 'heap' as const
  readonly name = 'heap pressure'
  readonly gate: FireGate
  private snapshotTaken = false

  constructor(private readonly trigger: ResolvedHeapTrigger) {
    this.gate = new FireGate(trigger.cooldownMs, trigger.maxCaptures)
  }

  observe(): { breach: Breach | undefined; observed: Record<string, unknown> } {
    const { used_heap_size: used, heap_size_limit: limit } = getHeapStatistics()
    const fraction = used / limit
    const observed = { usedFraction: Math.round(fraction * 1000) / 1000, usedBytes: used, limitBytes: limit }
    if (fraction <= this.trigger.usedFraction) return { breach: undefined, observed }
    const reason =
      `heap used ${(fraction * 100).toFixed(1)}% of the ${Math.round(limit / 1024 / 1024)} MiB limit ` +
      `> ${Math.round(this.trigger.usedFraction * 100)}%`
    if (this.trigger.snapshotOnce && !this.snapshotTaken) {
      return { observed, breach: { reason, kind: 'heapsnapshot' } }
    }
    return {
      observed,
      breach: { reason, kind: this.trigger.capture.kind, durationMs: this.trigger.capture.durationMs },
    }
  }

  fired(): void {
    this.snapshotTaken = true
  }
}
