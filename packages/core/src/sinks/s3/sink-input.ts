import { ErrorCodes, TripwireError } from '../../errors.js'
import type { CaptureMeta } from '../../types.js'
import { checkBody, describeValue } from '../sink-input.js'

/**
 * The most items one `list` page returns: each item is one GET of a metadata object (the admin API asks for
 * at most 100).
 */
export const MAX_S3_LIST_LIMIT = 100

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
      `S3Sink.put: meta.service must be a non-empty string (it names the key folder), got ${describeValue(meta.service)}`,
    )
  }
  checkBody('S3Sink', body)
}
