import { ErrorCodes, type ErrorCode } from '../errors.js'

const STATUS_BY_CODE: Readonly<Partial<Record<ErrorCode, number>>> = Object.freeze({
  [ErrorCodes.INVALID_REQUEST]: 400,
  [ErrorCodes.INVALID_ID]: 400,
  [ErrorCodes.KIND_DISABLED]: 400,
  [ErrorCodes.PROFILE_TOO_LARGE]: 400,
  [ErrorCodes.UNAUTHORIZED]: 401,
  [ErrorCodes.FORBIDDEN]: 403,
  [ErrorCodes.NOT_FOUND]: 404,
  [ErrorCodes.METHOD_NOT_ALLOWED]: 405,
  [ErrorCodes.FORMAT_UNAVAILABLE]: 406,
  [ErrorCodes.BUSY]: 409,
  [ErrorCodes.PROFILER_IN_USE]: 409,
  [ErrorCodes.CAPTURE_STATE]: 409,
  [ErrorCodes.NOT_RUNNING]: 409,
  [ErrorCodes.BODY_TOO_LARGE]: 413,
  [ErrorCodes.RATE_LIMITED]: 429,
  [ErrorCodes.COOLDOWN]: 429,
  [ErrorCodes.INSPECTOR_UNAVAILABLE]: 503,
  [ErrorCodes.INSUFFICIENT_MEMORY]: 503,
  [ErrorCodes.CLOSED]: 503,
  [ErrorCodes.SINK_UNAVAILABLE]: 503,
  [ErrorCodes.SINK_DISK_FULL]: 507,
  [ErrorCodes.SINK_SPOOL_FULL]: 507,
})

/** The HTTP status an error code is answered with; codes that mean "our fault" (sink I/O, bugs) are 500. */
export function httpStatusForCode(code: string): number {
  return Object.hasOwn(STATUS_BY_CODE, code) ? STATUS_BY_CODE[code as ErrorCode]! : 500
}

/** `Retry-After` counts whole seconds: rounding down would invite a retry that is refused again. */
export function retryAfterSeconds(retryAfterMs: number): number {
  return Math.max(1, Math.ceil(retryAfterMs / 1000))
}
