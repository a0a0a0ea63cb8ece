import { performance } from 'node:perf_hooks'
import { OptionChecker } from '../option-checks.js'
import { LogHistogram, type LatencyQuantiles, type LogHistogramOptions } from './log-histogram.js'

export interface SlidingLatencyWindowOptions {
  /** How far back quantiles look; default 60 s. */
  windowMs?: number
  /** Slices the window is cut into; default 12 (5 s slices for 60 s). More slices age data out more smoothly. */
  subWindows?: number
  histogram?: LogHistogramOptions
  /** A monotonic clock in ms; injectable for tests. */
  now?: () => number
}

export const DEFAULT_WINDOW_MS = 60_000
export const DEFAULT_SUB_WINDOWS = 12

const KNOWN_OPTIONS = ['windowMs', 'subWindows', 'histogram', 'now']

/**
 * Latency quantiles over the last `windowMs`, kept as a ring of `subWindows` histograms, one per time slice.
 * Slices are aligned to multiples of the slice length on the clock and rotate lazily: whoever next records or
 * reads after a slice ends clears the slices that fell out, so there is no timer and nothing is allocated after
 * construction. A value counts while its slice is one of the last `subWindows`, so it stops counting between
 * `windowMs - windowMs/subWindows` and `windowMs` after it was recorded, never later.
 */
export class SlidingLatencyWindow {
  readonly windowMs: number
  readonly subWindows: number
  private readonly sliceMs: number
  private readonly now: () => number
  private readonly slices: LogHistogram[]
  // One histogram reused by every snapshot, so reading does not allocate either
  private readonly scratch: LogHistogram
  // The clock slice number (floor(t / sliceMs)) that `current` holds, and the time that slice ends
  private epoch: number
  private sliceEnd: number
  private current: LogHistogram

  constructor(options: SlidingLatencyWindowOptions = {}) {
    const check = new OptionChecker('SlidingLatencyWindow')
    const o = check.object('', options, KNOWN_OPTIONS)
    this.windowMs = check.number('windowMs', o.windowMs, DEFAULT_WINDOW_MS, 1, 86_400_000)
    this.subWindows = check.integer('subWindows', o.subWindows, DEFAULT_SUB_WINDOWS, 1, 1000)
    if (o.now !== undefined && typeof o.now !== 'function') check.fail('now', 'must be a function')
    this.now = options.now ?? (() => performance.now())
    this.sliceMs = this.windowMs / this.subWindows
    this.slices = Array.from({ length: this.subWindows }, () => new LogHistogram(options.histogram))
    this.scratch = new LogHistogram(options.histogram)
    this.epoch = Math.floor(this.now() / this.sliceMs)
    this.sliceEnd = (this.epoch + 1) * this.sliceMs
    this.current = this.slot(this.epoch)
  }

  /**
   * Records one latency in ms; NaN, negative and infinite values are ignored. A caller that has just read the
   * window's clock (to time the request) passes that reading as `nowMs`: a clock read costs more than the rest
   * of recording together (~40 ns for `performance.now()` on Node 20).
   */
  record(ms: number, nowMs: number = this.now()): void {
    if (nowMs >= this.sliceEnd) this.rotate(nowMs)
    this.current.record(ms)
  }

  /** The histogram bucket of `ms`, or -1 when it is never counted (see `LogHistogram.bucketFor`). */
  bucketFor(ms: number): number {
    return this.current.bucketFor(ms)
  }

  /** Records `ms` in the bucket `bucketFor(ms)` gave on a window of the same histogram layout. */
  recordIn(bucket: number, ms: number, nowMs: number): void {
    if (nowMs >= this.sliceEnd) this.rotate(nowMs)
    this.current.recordIn(bucket, ms)
  }

  /**
   * The merged histogram of the live slices. It is the window's own scratch histogram: read it before the
   * next `snapshot()` or `quantiles()` call on this window, which overwrites it.
   */
  snapshot(): LatencyQuantiles {
    const t = this.now()
    if (t >= this.sliceEnd) this.rotate(t)
    this.scratch.clear()
    for (const slice of this.slices) slice.addTo(this.scratch)
    return this.scratch
  }

  /** Several quantiles from one snapshot, e.g. `quantiles([0.5, 0.9, 0.99])`; NaN for an empty window. */
  quantiles(qs: readonly number[]): number[] {
    const snapshot = this.snapshot()
    return qs.map((q) => snapshot.quantile(q))
  }

  /** Bytes held by the bucket arrays (slices and scratch), for sizing. */
  get bucketBytes(): number {
    return (this.subWindows + 1) * this.scratch.bucketBytes
  }

  private rotate(t: number): void {
    // max() guards against t / sliceMs rounding down onto the slice that t has already passed
    const epoch = Math.max(Math.floor(t / this.sliceMs), this.epoch + 1)
    // The slices between the old and the new current one saw no traffic; after a gap of a whole window or more,
    // every slice is stale
    const stale = Math.min(epoch - this.epoch, this.subWindows)
    for (let k = 1; k <= stale; k++) this.slot(this.epoch + k).clear()
    this.epoch = epoch
    this.sliceEnd = (epoch + 1) * this.sliceMs
    this.current = this.slot(epoch)
  }

  private slot(epoch: number): LogHistogram {
    // An injected clock may be negative, and % keeps the sign of its left operand
    const n = this.subWindows
    return this.slices[((epoch % n) + n) % n]!
  }
}
