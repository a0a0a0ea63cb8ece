/** How long the uploader waits before the next attempt after failures. */
export interface BackoffPolicy {
  /** The wait after the first failure, in ms; it doubles with each failure in a row. */
  baseMs: number
  /** The longest wait, in ms. */
  maxMs: number
}

/**
 * Exponential backoff with "equal jitter": half the capped delay is fixed, half random. The fixed half keeps a
 * failing store from being retried in a tight loop; the random half keeps a fleet that lost S3 at the same
 * moment from retrying in lockstep when it comes back.
 */
export function backoffDelayMs(
  policy: BackoffPolicy,
  failures: number,
  random: () => number = Math.random,
): number {
  // 2 ** 30 is far past any cap, and stops the exponent from overflowing to Infinity
  const exponent = Math.min(Math.max(failures - 1, 0), 30)
  const capped = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent)
  return Math.round(capped / 2 + (random() * capped) / 2)
}
