import type { TripwireController } from '../controller.js'
import { ErrorCodes, isTripwireError } from '../errors.js'
import type { RouteLatencyTable } from '../latency/route-latency.js'
import { currentLockHolder } from '../process-lock.js'
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
  /** The evaluation under way, if any: the next one chains onto it. */
  private inFlight: Promise<void> = Promise.resolve()

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
    let ticking = false
    this.timer = setInterval(() => {
      // a slow evaluation (a capture starting) makes the next tick wait its turn rather than pile up
      if (ticking) return
      ticking = true
      void this.evaluate().finally(() => (ticking = false))
    }, this.triggers.evaluateEveryMs)
    // the triggers watch a process that lives for other reasons; they never keep it alive
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
    for (const { rule } of this.records) rule.dispose?.()
  }

  /**
   * One evaluation of every rule; public so tests and scripts can drive it. Evaluations never overlap: one
   * asked for while another runs waits for it, then runs. Never rejects.
   */
  evaluate(): Promise<void> {
    const previous = this.inFlight
    const next = (async () => {
      await previous
      try {
        for (const record of this.records) await this.evaluateRule(record)
      } catch (error) {
        this.logger.error('tripwire: evaluating automatic triggers failed', { error: String(error) })
      }
    })()
    this.inFlight = next
    return next
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
    if (breach === undefined || this.held(record, now) || record.rule.gate.state(now) !== 'armed') return

    if (this.triggers.dryRun) {
      record.rule.gate.record(now)
      record.rule.fired?.()
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

  /**
   * Whether a refusal's retryAfterMs still holds the rule back. A busy refusal learns its retryAfterMs from the
   * lock's `endsBy`, which for a manual or request capture is only its cap: once no capture holds the lock, the
   * hold is over, however early the capture was stopped.
   */
  private held(record: RuleRecord, now: number): boolean {
    if (now >= record.holdUntil) return false
    if (record.lastRefusal?.code === ErrorCodes.BUSY && currentLockHolder() === undefined) {
      record.holdUntil = 0
      return false
    }
    return true
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
      // busy with a capture that has no planned end (a heap snapshot): wait until the lock is free
      if (code === ErrorCodes.BUSY) {
        record.holdUntil = Number.POSITIVE_INFINITY
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
