import type { RouteLatencyTable } from '../latency/route-latency.js'
import { FireGate } from './fire-gate.js'
import type { AutomaticRule, Breach } from './rule.js'
import { compileRoutePattern } from './route-pattern.js'
import { quantileLabel, type ResolvedSloRule } from './trigger-options.js'

/**
 * A latency SLO: when a matching route's quantile over the window is above the threshold with at least
 * `minSamples` requests, capture. With several matching routes in breach, the worst one is named.
 */
export class SloRule implements AutomaticRule {
  readonly type = 'slo' as const
  readonly name: string
  readonly gate: FireGate
  private readonly matches: (routeKey: string) => boolean
  private readonly excluded: ((routeKey: string) => boolean)[]

  constructor(
    private readonly rule: ResolvedSloRule,
    private readonly latency: RouteLatencyTable,
  ) {
    this.name = rule.name
    this.gate = new FireGate(rule.cooldownMs, rule.maxCaptures)
    this.matches = compileRoutePattern(rule.route)
    this.excluded = rule.exclude.map(compileRoutePattern)
  }

  observe(): { breach: Breach | undefined; observed: Record<string, unknown> } {
    const { quantile, thresholdMs, minSamples, windowMs } = this.rule
    let worst: { routeKey: string; valueMs: number; samples: number } | undefined
    let watched = 0
    for (const [routeKey, window] of this.latency.routes()) {
      if (!this.matches(routeKey) || this.excluded.some((excluded) => excluded(routeKey))) continue
      watched++
      const snapshot = window.snapshot()
      if (snapshot.count < minSamples) continue
      const valueMs = snapshot.quantile(quantile)
      if (valueMs > thresholdMs && (worst === undefined || valueMs > worst.valueMs)) {
        worst = { routeKey, valueMs, samples: snapshot.count }
      }
    }
    const observed = { routesWatched: watched, worst: worst ?? null }
    if (worst === undefined) return { breach: undefined, observed }

    const space = worst.routeKey.indexOf(' ')
    const method = worst.routeKey.slice(0, space)
    const route = worst.routeKey.slice(space + 1)
    const label = quantileLabel(quantile)
    return {
      observed,
      breach: {
        reason:
          `${label} ${Math.round(worst.valueMs)}ms > ${thresholdMs}ms on ${worst.routeKey} ` +
          `(window ${Math.round(windowMs / 1000)}s, n=${worst.samples})`,
        kind: this.rule.capture.kind,
        durationMs: this.rule.capture.durationMs,
        request: { method, route },
        slo: {
          route: worst.routeKey,
          quantile,
          thresholdMs,
          observedMs: Math.round(worst.valueMs * 1000) / 1000,
          windowMs,
          samples: worst.samples,
        },
      },
    }
  }
}
