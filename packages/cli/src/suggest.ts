/**
 * The candidate a mistyped word most likely meant: the only one it abbreviates (`--ver`), else the closest
 * within a third of the word's length in edits (at least 1, at most 3), else `undefined`.
 */
export function closest(input: string, candidates: readonly string[]): string | undefined {
  const extending = candidates.filter((candidate) => candidate.startsWith(input))
  if (extending.length === 1) return extending[0]
  const limit = Math.min(3, Math.max(1, Math.floor(input.length / 3)))
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of candidates) {
    const distance = editDistance(input, candidate)
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return bestDistance <= limit ? best : undefined
}

/** Levenshtein distance, with one row of memory: the inputs are flag and command names. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution))
    }
    previous = current
  }
  return previous[b.length]!
}
