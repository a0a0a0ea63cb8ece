/**
 * Tokens whose signature failed, remembered so that the same forged token sent again is refused without any
 * cryptography. Attack traffic and misconfigured clients send one bad token over and over; a lookup costs a
 * fraction of an HMAC, let alone an RSA or ECDSA verification. The verdict cannot go stale: a service's keys
 * are fixed when it starts. Bounded in entries and in the length of what it keeps, oldest forgotten first.
 */
export class ForgedTokenCache {
  private readonly tokens = new Set<string>()

  constructor(
    private readonly maxEntries = 1024,
    /** Longer tokens are verified every time rather than kept: the cache holds at most entries × this. */
    private readonly maxTokenLength = 1024,
  ) {}

  has(token: string): boolean {
    return this.tokens.has(token)
  }

  remember(token: string): void {
    if (token.length > this.maxTokenLength || this.tokens.has(token)) return
    if (this.tokens.size >= this.maxEntries) {
      // a Set iterates in insertion order: the first is the oldest
      this.tokens.delete(this.tokens.values().next().value!)
    }
    this.tokens.add(token)
  }

  get size(): number {
    return this.tokens.size
  }
}
