import type { ResolvedFireCap } from './trigger-options.js'

export type GateState = 'armed' | 'cooling-down' | 'exhausted'

/**
 * When an automatic rule may fire again: a cooldown after each fire (no re-fire while a breach simply goes on)
 * and a cap of `count` fires within any `perMs`. Times are monotonic milliseconds.
 */
export class FireGate {
  private readonly fired: number[] = []
  private lastFiredAt = Number.NEGATIVE_INFINITY

  constructor(
    private readonly cooldownMs: number,
    private readonly cap: ResolvedFireCap,
  ) {}

  state(now: number): GateState {
    this.forget(now)
    if (now - this.lastFiredAt < this.cooldownMs) return 'cooling-down'
    if (this.fired.length >= this.cap.count) return 'exhausted'
    return 'armed'
  }

  record(now: number): void {
    this.lastFiredAt = now
    this.fired.push(now)
  }

  /** Fires left in the current sliding window. */
  left(now: number): number {
    this.forget(now)
    return this.cap.count - this.fired.length
  }

  /** Milliseconds until the gate opens again, 0 when it is open. */
  opensInMs(now: number): number {
    const cooling = this.lastFiredAt + this.cooldownMs - now
    this.forget(now)
    const exhausted = this.fired.length >= this.cap.count ? this.fired[0]! + this.cap.perMs - now : 0
    return Math.max(0, Math.ceil(Math.max(cooling, exhausted)))
  }

  private forget(now: number): void {
    while (this.fired.length > 0 && now - this.fired[0]! >= this.cap.perMs) this.fired.shift()
  }
}
