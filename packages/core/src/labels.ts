/** Labels end up in metadata, object keys and (later) pprof labels: keep them small and plain. */
export const LABEL_LIMITS = { count: 32, keyLength: 64, valueLength: 256 } as const
const LABEL_KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/

/**
 * Checks a labels object; returns the copy to keep, or a sentence saying what is wrong. The copy is built
 * with `Object.fromEntries`, so a `__proto__` key from parsed JSON stays a plain key instead of vanishing.
 */
export function checkLabels(value: unknown): { labels: Record<string, string> } | { problem: string } {
  if (value === undefined) return { labels: {} }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { problem: 'labels must be an object of strings' }
  }
  const entries = Object.entries(value)
  if (entries.length > LABEL_LIMITS.count)
    return { problem: `labels may hold at most ${LABEL_LIMITS.count} entries` }
  for (const [key, item] of entries) {
    if (key.length > LABEL_LIMITS.keyLength || !LABEL_KEY.test(key)) {
      return {
        problem: `label name ${JSON.stringify(key.slice(0, 40))} must be 1–${LABEL_LIMITS.keyLength} letters, digits, "_", "." or "-", starting with a letter or "_"`,
      }
    }
    if (typeof item !== 'string' || item.length > LABEL_LIMITS.valueLength) {
      return { problem: `label "${key}" must be a string of at most ${LABEL_LIMITS.valueLength} characters` }
    }
  }
  return { labels: Object.fromEntries(entries) }
}
