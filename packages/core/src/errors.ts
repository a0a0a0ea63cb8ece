/**
 * Every error Tripwire raises carries a stable `code`. The brand is a `Symbol.for` key so that
 * `isTripwireError()` holds across two installed copies of the package, where `instanceof` would not.
 */
const BRAND = Symbol.for('tripwire.error.v1')

export const ErrorCodes = {
  /** Options given to a constructor are wrong; the message names the option and the fix. */
  INVALID_OPTIONS: 'ERR_TRIPWIRE_INVALID_OPTIONS',
  /** A capture request is malformed (unknown kind, duration out of range, …). */
  INVALID_REQUEST: 'ERR_TRIPWIRE_INVALID_REQUEST',
  /** A capture id does not match the id pattern. */
  INVALID_ID: 'ERR_TRIPWIRE_INVALID_ID',
  /** Another capture is running in this process. */
  BUSY: 'ERR_TRIPWIRE_BUSY',
  /** The capture budget (token bucket) is spent. */
  RATE_LIMITED: 'ERR_TRIPWIRE_RATE_LIMITED',
  /** The cooldown after the previous capture has not passed. */
  COOLDOWN: 'ERR_TRIPWIRE_COOLDOWN',
  /** The kind is disabled by configuration (heap snapshots are off unless enabled). */
  KIND_DISABLED: 'ERR_TRIPWIRE_KIND_DISABLED',
  /** `node:inspector` cannot be used in this process (a build without it, the permission model). */
  INSPECTOR_UNAVAILABLE: 'ERR_TRIPWIRE_INSPECTOR_UNAVAILABLE',
  /** The inspector answered with an error or did not answer in time. */
  INSPECTOR_FAILED: 'ERR_TRIPWIRE_INSPECTOR_FAILED',
  /** Another owner (`--heap-prof`, a debugger, an APM agent) holds V8's single sampling heap profiler. */
  PROFILER_IN_USE: 'ERR_TRIPWIRE_PROFILER_IN_USE',
  /** Not enough free memory to build a heap snapshot safely. */
  INSUFFICIENT_MEMORY: 'ERR_TRIPWIRE_INSUFFICIENT_MEMORY',
  /** The profile is (or would be) larger than the configured bound. */
  PROFILE_TOO_LARGE: 'ERR_TRIPWIRE_PROFILE_TOO_LARGE',
  /** The controller was closed. */
  CLOSED: 'ERR_TRIPWIRE_CLOSED',
  /** No running capture has that id. */
  NOT_RUNNING: 'ERR_TRIPWIRE_NOT_RUNNING',
  /** `close()` could not store a running capture before its deadline. */
  CLOSE_TIMEOUT: 'ERR_TRIPWIRE_CLOSE_TIMEOUT',
  /** The sink's disk is full. */
  SINK_DISK_FULL: 'ERR_TRIPWIRE_SINK_DISK_FULL',
  /** The sink may not write or read where it was told to. */
  SINK_PERMISSION: 'ERR_TRIPWIRE_SINK_PERMISSION',
  /** Any other sink input/output failure. */
  SINK_IO: 'ERR_TRIPWIRE_SINK_IO',
  /**
   * The sink's remote store cannot be used: its endpoint is unreachable or failing, or the bucket does not
   * exist. Captures wait in the local spool meanwhile.
   */
  SINK_UNAVAILABLE: 'ERR_TRIPWIRE_SINK_UNAVAILABLE',
  /** The sink's local spool was full: its oldest capture was dropped before it could be uploaded. */
  SINK_SPOOL_FULL: 'ERR_TRIPWIRE_SINK_SPOOL_FULL',
  /** Admin API: no credentials, or credentials that do not verify (HTTP 401). */
  UNAUTHORIZED: 'ERR_TRIPWIRE_UNAUTHORIZED',
  /** Admin API: valid credentials without the needed scope, or refused by `authorize` (HTTP 403). */
  FORBIDDEN: 'ERR_TRIPWIRE_FORBIDDEN',
  /** Admin API: no such route or capture (HTTP 404). */
  NOT_FOUND: 'ERR_TRIPWIRE_NOT_FOUND',
  /** Admin API: the route exists but not with this method (HTTP 405). */
  METHOD_NOT_ALLOWED: 'ERR_TRIPWIRE_METHOD_NOT_ALLOWED',
  /** Admin API: the request body is larger than `admin.bodyLimitBytes` (HTTP 413). */
  BODY_TOO_LARGE: 'ERR_TRIPWIRE_BODY_TOO_LARGE',
  /** Admin API: the capture cannot be served in the requested format (HTTP 406). */
  FORMAT_UNAVAILABLE: 'ERR_TRIPWIRE_FORMAT_UNAVAILABLE',
  /** Admin API: the capture is in a state that does not allow this (still running, failed) (HTTP 409). */
  CAPTURE_STATE: 'ERR_TRIPWIRE_CAPTURE_STATE',
  /** Admin API: an unexpected failure; the details are in the service's log, not the response (HTTP 500). */
  INTERNAL: 'ERR_TRIPWIRE_INTERNAL',
  ADMIN_LISTEN_FAILED: 'ERR_TRIPWIRE_ADMIN_LISTEN_FAILED',
} as const

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

export interface TripwireErrorDetails {
  /** For BUSY, RATE_LIMITED and COOLDOWN: when trying again may succeed. */
  retryAfterMs?: number
  cause?: unknown
}

export class TripwireError extends Error {
  readonly code: ErrorCode
  readonly retryAfterMs: number | undefined
  declare readonly [BRAND]: true

  constructor(code: ErrorCode, message: string, details: TripwireErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.name = 'TripwireError'
    this.code = code
    this.retryAfterMs = details.retryAfterMs
    Object.defineProperty(this, BRAND, { value: true })
  }

  /** The `{ code, message }` pair stored in metadata and sent in API errors. */
  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message }
  }
}

export function isTripwireError(value: unknown): value is TripwireError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true
}

/** Turns anything thrown into the `{ code, message }` pair stored in metadata: Tripwire codes are kept. */
export function describeError(error: unknown, fallbackCode: ErrorCode): { code: ErrorCode; message: string } {
  if (isTripwireError(error)) return error.toJSON()
  return { code: fallbackCode, message: error instanceof Error ? error.message : String(error) }
}
