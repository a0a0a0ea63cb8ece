import { ErrorCodes, isTripwireError, TripwireError } from '../errors.js'

/** The errno `code` of a Node.js system error, if it has one. */
export function errnoCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' ? code : undefined
}

export function isNotFound(error: unknown): boolean {
  return errnoCode(error) === 'ENOENT'
}

/**
 * Turns a file-system failure into a coded `TripwireError` whose message says what to fix.
 * `action` completes the sentence "LocalDiskSink could not …" (e.g. `write /var/profiles/.tmp-…`).
 * Tripwire errors pass through unchanged, so nested helpers can map once at the innermost level.
 */
export function toSinkError(error: unknown, action: string, dir: string): TripwireError {
  if (isTripwireError(error)) return error
  const code = errnoCode(error)
  const detail = error instanceof Error ? error.message : String(error)
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new TripwireError(
        ErrorCodes.SINK_DISK_FULL,
        `LocalDiskSink could not ${action}: the disk (or quota) is full. ` +
          `Free space under ${dir}, or lower the sink's retention.maxBytes / retention.maxCount`,
        { cause: error },
      )
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new TripwireError(
        ErrorCodes.SINK_PERMISSION,
        `LocalDiskSink could not ${action} (${code}). ` +
          `Give the process read and write access to ${dir}, or point the sink's dir at a writable directory`,
        { cause: error },
      )
    default:
      return new TripwireError(ErrorCodes.SINK_IO, `LocalDiskSink could not ${action}: ${detail}`, {
        cause: error,
      })
  }
}
