import type { TripwireController } from '../controller.js'
import { ErrorCodes, isTripwireError } from '../errors.js'
import type { RouteLatencyTable } from '../latency/route-latency.js'
import type { Logger } from '../types.js'
import { EventLoopRule } from './event-loop-rule.js'
import type { GateState } from './fire-gate.js'
import { HeapRule } from './heap-rule.js'
import type { AutomaticRule, Breach } from './rule.js'
import { SloRule } from './slo-rule.js'
import type { ResolvedTriggers } from './trigger-options.js'

export type RuleState = GateState | 'breaching'

export interface RuleStatus {
  name: string
  type: 'slo' | 'eventloop' | 'heap'
  /**
   * `armed`: watching, not in breach. `breaching`: in breach now (and about to fire, or held back by the
   * capture lock or budget). `cooling-down`: fired recently. `exhausted`: its captures per window are spent.
   */
  state: RuleState
  breaching: boolean
  /** ISO time of the last fire (or would-be fire in dry run). */
  lastFiredAt: string | null
  /** Captures left in the rule's sliding window. */
  capturesLeft: number
  /** When the rule may fire again, in ms (0 = now). */
  opensInMs: number
  fired: number
  /** Dry run: fires that would have happened. */
  wouldHaveFired: number
  /** The last refusal from the controller (busy, rate limited, …), if any. */
  lastRefusal: { code: string; at: string } | null
  observed: Record<string, unknown>
}

interface RuleRecord {
  rule: AutomaticRule
  lastFiredAt: number | undefined
  fired: number
  wouldHaveFired: number
  breaching: boolean
  observed: Record<string, unknown>
  lastRefusal: { code: string; at: string } | null
  /** A refusal that said when to retry holds the rule back until then (monotonic ms). */
  holdUntil: number
}

/**
 * The automatic triggers: SLO rules over the per-route latency windows, event-loop delay and heap pressure,
 * evaluated on one unref'd timer (never per request). A breach starts a `window` capture through the
 * controller, so every bound (one at a time, budget, cooldown) still applies; each rule has its own cooldown
 * and cap on top. In dry run, breaches are logged and counted, and nothing starts.
 */
export class AutomaticTriggers {
  private readonly records: RuleRecord[]
  private timer: NodeJS.Timeout | undefined
  private evaluating = false

  constructor(
    private readonly controller: TripwireController,
    private readonly triggers: ResolvedTriggers,
    latencyFor: (windowMs: number) => RouteLatencyTable,
    private readonly logger: Logger,
    private readonly now: () => number = () => performance.now(),
  ) {
    const rules: AutomaticRule[] = triggers.slo.map((rule) => new SloRule(rule, latencyFor(rule.windowMs)))
    if (triggers.eventLoop !== undefined) rules.push(new EventLoopRule(triggers.eventLoop, this.now()))
    if (triggers.heap !== undefined) rules.push(new HeapRule(triggers.heap))
    this.records = rules.map((rule) => ({
      rule,
      lastFiredAt: undefined,
      fired: 0,
      wouldHaveFired: 0,
      breaching: false,
      observed: {},
      lastRefusal: null,
      holdUntil: 0,
    }))
  }

  get size(): number {
    return this.records.length
  }

  start(): void {
    if (this.records.length === 0 || this.timer !== undefined) return
    this.timer = setInterval(() => void this.evaluate(), this.triggers.evaluateEveryMs)
    // the triggers watch a process that lives for other reasons; they never keep it alive
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
    for (const { rule } of this.records) rule.dispose?.()
  }

  /** One evaluation tick; public so tests can drive it. Never rejects. */
  async evaluate(): Promise<void> {
    if (this.evaluating) return
    this.evaluating = true
    try {
      for (const record of this.records) await this.evaluateRule(record)
    } catch (error) {
      this.logger.error('tripwire: evaluating automatic triggers failed', { error: String(error) })
    } finally {
      this.evaluating = false
    }
  }

  status(): RuleStatus[] {
    const now = this.now()
    return this.records.map((record) => {
      const { rule } = record
      const gate = rule.gate.state(now)
      return {
        name: rule.name,
        type: rule.type,
        state: record.breaching && gate === 'armed' ? 'breaching' : gate,
        breaching: record.breaching,
        lastFiredAt:
          record.lastFiredAt === undefined
            ? null
            : new Date(Date.now() - (now - record.lastFiredAt)).toISOString(),
        capturesLeft: rule.gate.left(now),
        opensInMs: rule.gate.opensInMs(now),
        fired: record.fired,
        wouldHaveFired: record.wouldHaveFired,
        lastRefusal: record.lastRefusal,
        observed: record.observed,
      }
    })
  }

  private async evaluateRule(record: RuleRecord): Promise<void> {
    const now = this.now()
    const { breach, observed } = record.rule.observe(now)
    record.observed = observed
    record.breaching = breach !== undefined
    if (breach === undefined || now < record.holdUntil || record.rule.gate.state(now) !== 'armed') return

    if (this.triggers.dryRun) {
      record.rule.gate.record(now)
      record.lastFiredAt = now
      record.wouldHaveFired++
      this.logger.info('tripwire: an automatic trigger would fire (dry run)', {
        rule: record.rule.name,
        reason: breach.reason,
      })
      return
    }
    await this.fire(record, breach, now)
  }

  private async fire(record: RuleRecord, breach: Breach, now: number): Promise<void> {
    try {
      await this.controller.start({
        kind: breach.kind,
        ...(breach.durationMs !== undefined && { durationMs: breach.durationMs }),
        trigger: { type: record.rule.type, reason: breach.reason, subject: record.rule.name },
        ...(breach.request !== undefined && { request: breach.request }),
        ...(breach.slo !== undefined && { slo: breach.slo }),
      })
    } catch (error) {
      const code = isTripwireError(error) ? error.code : ErrorCodes.INSPECTOR_FAILED
      record.lastRefusal = { code, at: new Date().toISOString() }
      // busy or over budget: try again when told; anything else: the rule's own cooldown applies
      if (isTripwireError(error) && error.retryAfterMs !== undefined) {
        record.holdUntil = now + error.retryAfterMs
        return
      }
      record.rule.gate.record(now)
      record.rule.fired?.()
      this.logger.debug('tripwire: an automatic trigger could not start a capture', {
        rule: record.rule.name,
        code,
      })
      return
    }
    record.rule.gate.record(now)
    record.rule.fired?.()
    record.lastFiredAt = now
    record.fired++
    this.logger.info('tripwire: an automatic trigger fired', {
      rule: record.rule.name,
      reason: breach.reason,
    })
  }
}
