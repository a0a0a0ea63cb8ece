import { Readable } from 'node:stream'
import { isCaptureId } from '../capture-id.js'
import { CAPTURE_KINDS, isCaptureKind } from '../capture-kinds.js'
import { ErrorCodes, TripwireError } from '../errors.js'
import type { CaptureKind, SinkListQuery } from '../types.js'

/** What every sink checks of its callers' input; `owner` (`LocalDiskSink`, `S3Sink`) starts each message. */
export interface CheckedListQuery {
  limit: number
  cursor: string | undefined
  kind: CaptureKind | undefined
}

/** A page size within 1 … `maxLimit`, a cursor that is a capture id, a kind that exists. */
export function checkListQuery(owner: string, query: SinkListQuery, maxLimit: number): CheckedListQuery {
  if (typeof query !== 'object' || (query as unknown) === null) {
    throw new TripwireError(ErrorCodes.INVALID_REQUEST, `${owner}.list needs a { limit } object`)
  }
  const { limit, cursor, kind } = query
  if (typeof limit !== 'number' || Number.isNaN(limit)) {
    throw new TripwireError(
      ErrorCodes.INVALID_REQUEST,
      `${owner}.list: limit must be a number, got ${describeValue(limit)}`,
    )
  }
  if (cursor !== undefined && !isCaptureId(cursor)) {
    throw new TripwireError(
      ErrorCodes.INVALID_ID,
      `${owner}.list: cursor ${describeValue(cursor)} is not a capture id; pass the nextCursor of the previous page`,
    )
  }
  if (kind !== undefined && !isCaptureKind(kind)) {
    throw new TripwireError(
      ErrorCodes.INVALID_REQUEST,
      `${owner}.list: kind ${describeValue(kind)} is not one of ${Object.keys(CAPTURE_KINDS).join(', ')}`,
    )
  }
  return { limit: Math.min(maxLimit, Math.max(1, Math.floor(limit))), cursor, kind }
}

export function checkBody(owner: string, body: unknown): void {
  if (body instanceof Readable || body instanceof Uint8Array) return
  throw new TripwireError(
    ErrorCodes.INVALID_REQUEST,
    `${owner}.put: the body must be a Buffer or a Readable, got ${describeValue(body)}`,
  )
}

/** A value as an error message shows it: short, never a whole token or body. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (value === null) return 'null'
  return Array.isArray(value) ? 'an array' : typeof value
}
