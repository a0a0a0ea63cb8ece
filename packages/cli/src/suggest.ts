import { didYouMean } from '@tripwire/core'

/**
 * The candidate a mistyped word most likely meant: the only one it abbreviates (`--ver`), else the closest
 * by edit distance (core's "did you mean", the same hints option errors give), else `undefined`.
 */
export function closest(input: string, candidates: readonly string[]): string | undefined {
  const extending = candidates.filter((candidate) => candidate.startsWith(input))
  if (extending.length === 1) return extending[0]
  return didYouMean(input, candidates)
}
