import { didYouMean } from './did-you-mean.js'
import { ErrorCodes, TripwireError } from './errors.js'

/**
 * Small checks shared by every options parser. Each failure names the owner (`createTripwire`,
 * `LocalDiskSink`, …), the option's path and what to write instead.
 */
export class OptionChecker {
  constructor(private readonly owner: string) {}

  fail(path: string, problem: string): never {
    throw new TripwireError(ErrorCodes.INVALID_OPTIONS, `${this.owner}: option "${path}" ${problem}`)
  }

  /** An object (or undefined) whose keys are all known. */
  object(path: string, value: unknown, known: readonly string[]): Record<string, unknown> {
    if (value === undefined) return {}
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.fail(path, `must be an object, got ${describe(value)}`)
    }
    for (const key of Object.keys(value)) {
      if (known.includes(key)) continue
      const hint = didYouMean(key, known)
      const where = path === '' ? key : `${path}.${key}`
      this.fail(
        where,
        `is not known${hint ? `; did you mean "${hint}"?` : `; known options: ${known.join(', ')}`}`,
      )
    }
    return value as Record<string, unknown>
  }

  integer(path: string, value: unknown, fallback: number, min: number, max: number): number {
    if (value === undefined) return fallback
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.fail(path, `must be a whole number from ${min} to ${max}, got ${describe(value)}`)
    }
    return value
  }

  number(path: string, value: unknown, fallback: number, min: number, max: number): number {
    if (value === undefined) return fallback
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      this.fail(path, `must be a number from ${min} to ${max}, got ${describe(value)}`)
    }
    return value
  }

  boolean(path: string, value: unknown, fallback: boolean): boolean {
    if (value === undefined) return fallback
    if (typeof value !== 'boolean') this.fail(path, `must be true or false, got ${describe(value)}`)
    return value
  }

  string(path: string, value: unknown, fallback?: string): string {
    if (value === undefined && fallback !== undefined) return fallback
    if (typeof value !== 'string' || value.trim() === '') {
      this.fail(path, `must be a non-empty string, got ${describe(value)}`)
    }
    return value
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return typeof value
}
