/**
 * The longest gap between ticks of a 1 ms timer while it runs: how long the event loop was kept from its timers
 * (by synchronous work, or by a queue of other callbacks).
 */
export class GapWatch {
  private last = performance.now()
  private longest = 0
  private readonly timer = setInterval(() => this.tick(), 1)

  private tick(): void {
    const now = performance.now()
    this.longest = Math.max(this.longest, now - this.last)
    this.last = now
  }

  end(): number {
    clearInterval(this.timer)
    this.tick()
    return this.longest
  }
}
