/**
 * The rate bounds on captures: a token bucket (N per hour, refilled continuously) and a cooldown after each
 * capture ends. Times come from a monotonic clock so a wall-clock jump never opens or closes the gate.
 */
export class CaptureBudget {
  private tokens: number
  private refilledAt: number
  private cooldownUntil = 0
  private readonly msPerToken: number

  constructor(
    private readonly capacity: number,
    private readonly cooldownMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = capacity
    this.refilledAt = now()
    this.msPerToken = 3_600_000 / capacity
  }

  /** What stands in the way of a capture now, if anything, and for how long. */
  check(): { ok: true } | { ok: false; reason: 'cooldown' | 'rate-limited'; retryAfterMs: number } {
    const now = this.now()
    if (now < this.cooldownUntil)
      return { ok: false, reason: 'cooldown', retryAfterMs: Math.ceil(this.cooldownUntil - now) }
    this.refill(now)
    if (this.tokens < 1) {
      return {
        ok: false,
        reason: 'rate-limited',
        retryAfterMs: Math.ceil((1 - this.tokens) * this.msPerToken),
      }
    }
    return { ok: true }
  }

  /** Spends one token; call only after `check()` said ok, in the same tick. */
  spend(): void {
    this.refill(this.now())
    this.tokens -= 1
  }

  /** Starts the cooldown; called when a capture ends. */
  startCooldown(): void {
    this.cooldownUntil = this.now() + this.cooldownMs
  }

  /** For status: whole tokens left now. */
  remaining(): number {
    this.refill(this.now())
    return Math.floor(this.tokens)
  }

  cooldownRemainingMs(): number {
    return Math.max(0, Math.ceil(this.cooldownUntil - this.now()))
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.refilledAt) / this.msPerToken)
    this.refilledAt = now
  }
}
