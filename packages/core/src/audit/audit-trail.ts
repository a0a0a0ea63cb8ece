import type { AuditEvent, AuditRefusalSource, AuditStatus, Logger } from '../types.js'

/** Refusals nobody can be named for are summed over this long, then reported in one event. */
export const AUDIT_REFUSAL_INTERVAL_MS = 10_000

type Recorded = AuditEvent extends infer Event
  ? Event extends AuditEvent
    ? Omit<Event, 'at'>
    : never
  : never

/**
 * Who triggered, downloaded, viewed, stopped or deleted what, and what was refused and why: one structured event
 * each, passed to the `audit` option or logged at info level, and counted. Refusals of requests that prove no
 * identity (a forged or malformed trigger token, failed admin authentication) are summed by reason and reported
 * once per AUDIT_REFUSAL_INTERVAL_MS: a flood of them must not become a flood of log lines.
 */
export class AuditTrail {
  private readonly counts: AuditStatus = { events: 0, byType: {}, refusedUnidentified: 0 }
  private pending = new Map<AuditRefusalSource, Map<string, number>>()
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly logger: Logger,
    private readonly sink: ((event: AuditEvent) => void) | undefined,
  ) {}

  record(event: Recorded): void {
    this.emit({ ...event, at: new Date().toISOString() })
  }

  /** A refusal of a request that proved no identity: summed, and reported with the others of its interval. */
  refusedUnidentified(source: AuditRefusalSource, reason: string): void {
    this.counts.refusedUnidentified++
    let byReason = this.pending.get(source)
    if (byReason === undefined) this.pending.set(source, (byReason = new Map<string, number>()))
    byReason.set(reason, (byReason.get(reason) ?? 0) + 1)
    // the first refusal of an interval arms the report; unref'd, so it never keeps a process alive
    this.timer ??= setTimeout(() => this.flush(), AUDIT_REFUSAL_INTERVAL_MS).unref()
  }

  /** Reports the refusals summed so far (at close, and at the end of each interval). */
  flush(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    const pending = this.pending
    this.pending = new Map()
    for (const [source, byReason] of pending) {
      this.record({
        type: 'refusals',
        outcome: 'refused',
        source,
        counts: Object.fromEntries(byReason),
        intervalMs: AUDIT_REFUSAL_INTERVAL_MS,
      })
    }
  }

  status(): AuditStatus {
    return structuredClone(this.counts)
  }

  private emit(event: AuditEvent): void {
    this.counts.events++
    this.counts.byType[event.type] = (this.counts.byType[event.type] ?? 0) + 1
    if (this.sink === undefined) {
      this.logger.info('tripwire: audit', event as unknown as Record<string, unknown>)
      return
    }
    try {
      this.sink(event)
    } catch (error) {
      // the audit hook is the application's: its failure must not fail the request it is reporting on
      this.logger.error('tripwire: the audit hook threw', { error: String(error), event: event.type })
    }
  }
}
