/** Edit distance between two short strings (option names), for "did you mean" hints. */
function editDistance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let diagonal = previous[0]!
    previous[0] = i
    for (let j = 1; j <= b.length; j++) {
      const above = previous[j]!
      const cost = a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1
      previous[j] = Math.min(above + 1, previous[j - 1]! + 1, diagonal + cost)
      diagonal = above
    }
  }
  return previous[b.length]!
}

/** The closest known name, if it is close enough to be a likely typo. */
export function didYouMean(input: string, known: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of known) {
    const distance = editDistance(input, candidate)
    // a third of the longer name: `treshold` is 3 edits from `thresholdMs`, and still plainly meant it
    const tolerance = Math.max(2, Math.floor(Math.max(input.length, candidate.length) / 3))
    if (distance <= tolerance && distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best
}
