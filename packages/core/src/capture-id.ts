import { randomBytes } from 'node:crypto'
import { ErrorCodes, TripwireError } from './errors.js'
import type { CaptureKind } from './types.js'

/**
 * `<UTC yyyymmddThhmmssZ>-<kind>-<8+ lowercase hex>`: sorts by time as a string, and holds nothing that a
 * path or an object key could misread (no `/`, `.`, `%` or `..`).
 */
export const CAPTURE_ID_PATTERN = /^\d{8}T\d{6}Z-(cpu|heap|heapsnapshot)-[0-9a-f]{8,32}$/

/** Longer strings are rejected before the pattern runs. */
const MAX_ID_LENGTH = 64

export function createCaptureId(kind: CaptureKind, at: Date = new Date()): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z')
  return `${stamp}-${kind}-${randomBytes(4).toString('hex')}`
}

export function isCaptureId(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_ID_LENGTH && CAPTURE_ID_PATTERN.test(value)
}

/** Throws `ERR_TRIPWIRE_INVALID_ID` unless `value` is a capture id; the message never echoes a long input. */
export function assertCaptureId(value: unknown): asserts value is string {
  if (isCaptureId(value)) return
  const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 80)) : typeof value
  throw new TripwireError(
    ErrorCodes.INVALID_ID,
    `${shown} is not a capture id; ids look like 20261121T223301Z-cpu-3f9a1c0e`,
  )
}

/** The kind an id names. Call only on a valid id. */
export function kindOfCaptureId(id: string): CaptureKind {
  return id.split('-')[1] as CaptureKind
}

/** Milliseconds since the epoch at which the capture with this id started (second precision). */
export function timeOfCaptureId(id: string): number {
  const s = id.slice(0, 15)
  return Date.UTC(
    +s.slice(0, 4),
    +s.slice(4, 6) - 1,
    +s.slice(6, 8),
    +s.slice(9, 11),
    +s.slice(11, 13),
    +s.slice(13, 15),
  )
}
