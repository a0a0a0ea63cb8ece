import { Readable } from 'node:stream'
import { isCaptureId } from '../../capture-id.js'
import { CAPTURE_KINDS, isCaptureKind } from '../../capture-kinds.js'
import { ErrorCodes, TripwireError } from '../../errors.js'
import type { CaptureKind, CaptureMeta, SinkListQuery } from '../../types.js'

/**
 * The most items one `list` page returns: each item is one GET of a metadata object (the admin API asks for
 * at most 100).
 */
export const MAX_S3_LIST_LIMIT = 100

export interface CheckedListQuery {
  limit: number
  cursor: string | undefined
  kind: CaptureKind | undefined
}

/**
 * What `put` needs beyond what the spool checks (id, kind, body type): a service name for the key. Throws
 * before anything is written.
 */
export function checkPutInput(meta: CaptureMeta, body: unknown): void {
  if (typeof meta !== 'object' || (meta as unknown) === null) {
    throw new TripwireError(ErrorCodes.INVALID_REQUEST, 'S3Sink.put needs a CaptureMeta object')
  }
  if (typeof meta.service !== 'string' || meta.service === '') {
    throw new TripwireError(
      ErrorCodes.INVALID_REQUEST,
      `S3Sink.put: meta.service must be a non-empty string (it names the key folder), got ${describe(meta.service)}`,
    )
  }
  if (!(body instanceof Readable) && !(body instanceof Uint8Array)) {
    throw new TripwireError(
      ErrorCodes.INVALID_REQUEST,
      `S3Sink.put: the body must be a Buffer or a Readable, got ${describe(body)}`,
    )
  }
}

export function checkListQuery(query: SinkListQuery): CheckedListQuery {
  if (typeof query !== 'object' || (query as unknown) === null) {
    throw new TripwireError(ErrorCodes.INVALID_REQUEST, 'S3Sink.list needs a { limit } object')
  }
  const { limit, cursor, kind } = query
  if (typeof limit !== 'number' || Number.isNaN(limit)) {
    throw new TripwireError(
      ErrorCodes.INVALID_REQUEST,
      `S3Sink.list: limit must be a number, got ${describe(limit)}`,
    )
  }
  if (cursor !== undefined && !isCaptureId(cursor)) {
    throw new TripwireError(
      ErrorCodes.INVALID_ID,
      `S3Sink.list: cursor ${describe(cursor)} is not a capture id; pass the nextCursor of the previous page`,
    )
  }
  if (kind !== undefined && !isCaptureKind(kind)) {
    throw new TripwireError(
      ErrorCodes.INVALID_REQUEST,
      `S3Sink.list: kind ${describe(kind)} is not one of ${Object.keys(CAPTURE_KINDS).join(', ')}`,
    )
  }
  return { limit: Math.min(MAX_S3_LIST_LIMIT, Math.max(1, Math.floor(limit))), cursor, kind }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (value === null) return 'null'
  return Array.isArray(value) ? 'an array' : typeof value
}
