/**
 * How many trigger-token signatures may be checked per second. A legitimate client sends a few tokens an hour
 * (each is single-use and captures run one at a time); a flood of freshly forged tokens would otherwise buy
 * one HMAC or public-key operation per request. Past the budget, tokens are refused unverified until the next
 * second: the service keeps its throughput, and operators keep the admin API.
 */
export class VerificationBudget {
  private windowEndsAtMs = 0
  private used = 0

  constructor(private readonly perSecond: number) {}

  /** Takes one verification from the current second's budget; false when it is spent. */
  take(nowMs: number): boolean {
    if (this.spent(nowMs)) return false
    this.used++
    return true
  }

  /**
   * Whether the current second's budget is spent, without taking from it: a token that would be refused
   * unverified anyway is refused before it is even decoded.
   */
  spent(nowMs: number): boolean {
    if (nowMs >= this.windowEndsAtMs) {
      this.windowEndsAtMs = nowMs + 1000
      this.used = 0
    }
    return this.used >= this.perSecond
  }
}
