import { OptionChecker } from '../option-checks.js'

export interface LogHistogramOptions {
  /** α: every quantile estimate is within this relative error of the true value at that rank. */
  relativeAccuracy?: number
  /** Values below this (to within one bucket) share an underflow bucket and are reported as `minMs`. */
  minMs?: number
  /** Values above this (to within one bucket) share an overflow bucket and are reported as `maxMs`. */
  maxMs?: number
}

/** The read side of a histogram, which is all a window's merged snapshot exposes. */
export interface LatencyQuantiles {
  /** Values recorded (NaN, negative and infinite values are not). */
  readonly count: number
  /** The smallest value recorded, exactly; NaN when empty. */
  readonly min: number
  /** The largest value recorded, exactly; NaN when empty. */
  readonly max: number
  /** The value at nearest rank `max(1, ceil(q * count))`, within `relativeAccuracy`; NaN when empty. */
  quantile(q: number): number
}

export const DEFAULT_RELATIVE_ACCURACY = 0.01
export const DEFAULT_MIN_MS = 0.01
export const DEFAULT_MAX_MS = 600_000

const KNOWN_OPTIONS = ['relativeAccuracy', 'minMs', 'maxMs']

/**
 * A DDSketch-style histogram of latencies in milliseconds: bucket k holds the values in (γ^(k-1), γ^k] with
 * γ = (1+α)/(1-α), and reports them as 2γ^k/(γ+1), which is within α of every value in the bucket. The bound
 * is a property of the bucket layout, not of the data, so it holds for any stream. The bucket array is
 * allocated once; recording never allocates, and merging is adding counts.
 */
export class LogHistogram implements LatencyQuantiles {
  readonly relativeAccuracy: number
  readonly minMs: number
  readonly maxMs: number
  private readonly gamma: number
  // Multiplying by the reciprocal keeps a division out of record()
  private readonly invLogGamma: number
  // Shifts log-bucket numbers so the bucket holding minMs is index 1; index 0 is the underflow bucket
  private readonly offset: number
  private readonly lastBucket: number
  private readonly overflow: number
  // Uint32 halves the memory of Float64; 2^32 requests in one window would take 70 M requests/s for 60 s
  private readonly counts: Uint32Array
  private total = 0
  // The exact extremes; they also bound the buckets in use, so clear/merge/quantile touch only that range
  private low = Infinity
  private high = -Infinity

  constructor(options: LogHistogramOptions = {}) {
    const check = new OptionChecker('LogHistogram')
    const o = check.object('', options, KNOWN_OPTIONS)
    this.relativeAccuracy = check.number(
      'relativeAccuracy',
      o.relativeAccuracy,
      DEFAULT_RELATIVE_ACCURACY,
      1e-4,
      0.5,
    )
    this.minMs = check.number('minMs', o.minMs, DEFAULT_MIN_MS, 1e-9, 1e9)
    this.maxMs = check.number('maxMs', o.maxMs, DEFAULT_MAX_MS, this.minMs, 1e12)
    const alpha = this.relativeAccuracy
    this.gamma = (1 + alpha) / (1 - alpha)
    this.invLogGamma = 1 / Math.log(this.gamma)
    this.offset = Math.ceil(Math.log(this.minMs) * this.invLogGamma) - 1
    this.lastBucket = Math.ceil(Math.log(this.maxMs) * this.invLogGamma) - this.offset
    this.overflow = this.lastBucket + 1
    this.counts = new Uint32Array(this.overflow + 1)
  }

  get count(): number {
    return this.total
  }

  get min(): number {
    return this.total === 0 ? NaN : this.low
  }

  get max(): number {
    return this.total === 0 ? NaN : this.high
  }

  /** Bytes held by the bucket array, for sizing. */
  get bucketBytes(): number {
    return this.counts.byteLength
  }

  /** The hot path: one log, one multiply, one ceil, a clamp and an increment. */
  record(ms: number): void {
    const bucket = this.bucketFor(ms)
    if (bucket >= 0) this.recordIn(bucket, ms)
  }

  /**
   * The bucket `ms` goes in, or -1 for a value that is never counted (NaN, negative, infinite). Histograms of
   * the same layout put a value in the same bucket: recording one value in several of them needs one log.
   */
  bucketFor(ms: number): number {
    // Written so NaN fails the test too; a bad measurement must not move min/max or any count
    return ms >= 0 && ms < Infinity ? this.bucketOf(ms) : -1
  }

  /** Records `ms` in `bucket`, which `bucketFor(ms)` gave, on a histogram of this layout. */
  recordIn(bucket: number, ms: number): void {
    const i = bucket
    this.counts[i] = this.counts[i]! + 1
    this.total++
    if (ms < this.low) this.low = ms
    if (ms > this.high) this.high = ms
  }

  clear(): void {
    if (this.total === 0) return
    this.counts.fill(0, this.bucketOf(this.low), this.bucketOf(this.high) + 1)
    this.total = 0
    this.low = Infinity
    this.high = -Infinity
  }

  /** Adds this histogram's counts into `target`, which must have the same bucket layout. */
  addTo(target: LogHistogram): void {
    if (!this.sameLayout(target)) {
      throw new RangeError('LogHistogram.addTo: histograms with different accuracy or range cannot be merged')
    }
    if (this.total === 0) return
    const from = this.bucketOf(this.low)
    const to = this.bucketOf(this.high)
    const source = this.counts
    const dest = target.counts
    for (let i = from; i <= to; i++) dest[i] = dest[i]! + source[i]!
    target.total += this.total
    if (this.low < target.low) target.low = this.low
    if (this.high > target.high) target.high = this.high
  }

  quantile(q: number): number {
    if (!(q >= 0 && q <= 1)) throw new RangeError(`LogHistogram.quantile: q must be from 0 to 1, got ${q}`)
    if (this.total === 0) return NaN
    // Nearest rank, 1-based: the smallest value with at least q of the values at or below it
    const rank = Math.max(1, Math.ceil(q * this.total))
    const last = this.bucketOf(this.high)
    let seen = 0
    for (let i = this.bucketOf(this.low); i <= last; i++) {
      seen += this.counts[i]!
      if (seen >= rank) return this.clampToSeen(this.valueOf(i))
    }
    return this.high
  }

  sameLayout(other: LogHistogram): boolean {
    return other.gamma === this.gamma && other.offset === this.offset && other.overflow === this.overflow
  }

  private bucketOf(ms: number): number {
    // log(0) is -Infinity, which lands in the underflow bucket like any other tiny value
    const i = Math.ceil(Math.log(ms) * this.invLogGamma) - this.offset
    return i < 1 ? 0 : i > this.lastBucket ? this.overflow : i
  }

  private valueOf(i: number): number {
    if (i === 0) return this.minMs
    if (i === this.overflow) return this.maxMs
    return (2 * Math.pow(this.gamma, i + this.offset)) / (this.gamma + 1)
  }

  // The true value at any rank lies within [min, max], so clamping never moves an estimate away from it
  private clampToSeen(value: number): number {
    return value < this.low ? this.low : value > this.high ? this.high : value
  }
}
