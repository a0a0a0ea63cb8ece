/**
 * Tokens whose signature failed, remembered so that the same forged token sent again is refused without any
 * cryptography. Attack traffic and misconfigured clients send one bad token over and over; a lookup costs a
 * fraction of an HMAC, let alone an RSA or ECDSA verification. The verdict cannot go stale: a service's keys
 * are fixed when it starts. Bounded in entries and in the length of what it keeps, oldest forgotten first.
 */
export class ForgedTokenCache {
  // Keyed by a hash of the token's last characters, each entry holding the whole token it stands for. The
  // token a server receives is a new string on every request, and a Set or Map keyed by the string itself
  // would hash all of it each time: measured on Node 20, ~0.6–0.8 µs for a 300-character token, more than
  // the rest of the refusal. The last characters are the signature's, which differ between forgeries; two
  // tokens that share a key only displace each other, and a token is refused from here only when it equals
  // the one kept, character for character.
  private readonly tokens = new Map<number, string>()

  constructor(
    private readonly maxEntries = 1024,
    /** Longer tokens are verified every time rather than kept: the cache holds at most entries × this. */
    private readonly maxTokenLength = 1024,
  ) {}

  has(token: string): boolean {
    return this.tokens.get(keyOf(token)) === token
  }

  remember(token: string): void {
    if (token.length > this.maxTokenLength) return
    const key = keyOf(token)
    const kept = this.tokens.get(key)
    if (kept === token) return
    // a token sharing the key takes the older one's place, as the newest entry
    if (kept !== undefined) this.tokens.delete(key)
    else if (this.tokens.size >= this.maxEntries) {
      // a Map iterates in insertion order: the first is the oldest
      this.tokens.delete(this.tokens.keys().next().value!)
    }
    this.tokens.set(key, token)
  }

  get size(): number {
    return this.tokens.size
  }
}

/** Characters hashed from the end of a token: a base64url signature segment is at least 43 long. */
const KEY_CHARACTERS = 24

/** A 32-bit hash of the token's length and last characters. */
function keyOf(token: string): number {
  let hash = token.length
  for (let index = Math.max(0, token.length - KEY_CHARACTERS); index < token.length; index++) {
    hash = (Math.imul(hash, 31) + token.charCodeAt(index)) | 0
  }
  return hash
}
