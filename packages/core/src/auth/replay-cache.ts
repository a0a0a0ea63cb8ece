/**
 * Single-use token ids. Each `jti` is remembered until its token expires, so the memory is bounded by the
 * number of live tokens, which is itself capped: when the cache is full of unexpired ids, new tokens are
 * refused rather than an old id forgotten (forgetting one would reopen it to replay).
 */
export class ReplayCache {
  /** jti → expiry in epoch seconds; insertion order is roughly expiry order, which makes sweeps cheap. */
  private readonly seen = new Map<string, number>()

  constructor(private readonly maxEntries: number) {}

  /** Records `jti` if it is new. */
  use(jti: string, expiresAtSec: number, nowSec: number): 'ok' | 'replayed' | 'full' {
    const known = this.seen.get(jti)
    if (known !== undefined && known > nowSec) return 'replayed'
    if (this.seen.size >= this.maxEntries) this.sweep(nowSec)
    if (this.seen.size >= this.maxEntries) return 'full'
    this.seen.set(jti, expiresAtSec)
    return 'ok'
  }

  get size(): number {
    return this.seen.size
  }

  private sweep(nowSec: number): void {
    for (const [jti, expiresAtSec] of this.seen) if (expiresAtSec <= nowSec) this.seen.delete(jti)
  }
}
