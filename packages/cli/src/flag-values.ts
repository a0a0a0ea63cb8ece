import { usageError } from './cli-error.js'
import { closest } from './suggest.js'

/** A whole decimal number in [min, max]; `1e3`, `1.5`, `0x10` and ` 7` are refused rather than guessed at. */
export function integerFlag(flag: string, raw: string, min: number, max: number, unit: string): number {
  const value = /^\d{1,9}$/.test(raw) ? Number(raw) : Number.NaN
  if (!Number.isInteger(value) || value < min || value > max) {
    throw usageError(
      `${flag} must be a whole number of ${unit} from ${min} to ${max} (got ${JSON.stringify(raw)})`,
    )
  }
  return value
}

/** One of a fixed set of words, with a suggestion for a near miss. */
export function choiceFlag<T extends string>(flag: string, raw: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(raw)) return raw as T
  const suggestion = closest(raw.toLowerCase(), choices)
  throw usageError(
    `${flag} must be ${listWords(choices)} (got ${JSON.stringify(raw)})${
      suggestion === undefined ? '' : `; did you mean ${suggestion}?`
    }`,
  )
}

/** A value that must say something: `--kid ''` is as good as no `--kid`. */
export function nonEmptyFlag(flag: string, raw: string | undefined): string | undefined {
  if (raw !== undefined && raw.trim() === '') throw usageError(`${flag} must not be empty`)
  return raw
}

function listWords(words: readonly string[]): string {
  return words.length < 2 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} or ${words.at(-1)}`
}
