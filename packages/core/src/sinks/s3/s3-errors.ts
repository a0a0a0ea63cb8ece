import { ErrorCodes, isTripwireError, TripwireError } from '../../errors.js'
import { errnoCode } from '../fs-errors.js'

/** What S3 calls a request whose credentials it does not accept (the AWS names; compatible stores reuse them). */
const CREDENTIAL_ERRORS = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'InvalidClientTokenId',
])

const ACCESS_ERRORS = new Set(['AccessDenied', 'AllAccessDisabled', 'AccountProblem', 'Forbidden'])

/** Errors that say the store (or the way to it) is down or overloaded right now: retrying may succeed. */
const UNAVAILABLE_ERRORS = new Set([
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'TimeoutError',
])

const NETWORK_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
])

interface SdkErrorShape {
  name?: unknown
  message?: unknown
  $metadata?: { httpStatusCode?: unknown }
}

/** The HTTP status of an SDK service error, if it got one. */
export function httpStatusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const status = (error as SdkErrorShape).$metadata?.httpStatusCode
  return typeof status === 'number' ? status : undefined
}

export function errorName(error: unknown): string {
  if (typeof error !== 'object' || error === null) return ''
  const name = (error as SdkErrorShape).name
  return typeof name === 'string' ? name : ''
}

/** A missing object (GetObject's NoSuchKey, HeadObject's bare 404). A missing bucket is not this. */
export function isMissingObject(error: unknown): boolean {
  const name = errorName(error)
  if (name === 'NoSuchKey' || name === 'NotFound') return true
  return httpStatusOf(error) === 404 && name !== 'NoSuchBucket'
}

export function isAbort(error: unknown): boolean {
  return errorName(error) === 'AbortError'
}

/**
 * Turns an S3 (or network, or credential-chain) failure into a coded `TripwireError` whose message says what
 * to fix. `action` completes "S3Sink could not …". `target` is what the request addressed: a bare 404 on a
 * bucket-level request (HeadBucket has no error body) means the bucket is missing. Tripwire errors pass through.
 */
export function toS3SinkError(
  error: unknown,
  action: string,
  bucket: string,
  target: 'bucket' | 'object' = 'object',
): TripwireError {
  if (isTripwireError(error)) return error
  const name = errorName(error)
  const status = httpStatusOf(error)
  const errno = errnoCode(error)
  const detail = `${name !== '' && name !== 'Error' ? `${name}: ` : ''}${messageOf(error)}`
  const fail = (code: (typeof ErrorCodes)[keyof typeof ErrorCodes], fix: string): TripwireError =>
    new TripwireError(code, `S3Sink could not ${action} (${detail}). ${fix}`, { cause: error })

  if (name === 'CredentialsProviderError' || /could not load credentials/i.test(messageOf(error))) {
    return fail(
      ErrorCodes.SINK_PERMISSION,
      'No AWS credentials were found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or an instance ' +
        'role, or pass clientConfig.credentials',
    )
  }
  if (/region is missing/i.test(messageOf(error))) {
    return fail(ErrorCodes.INVALID_OPTIONS, 'Set clientConfig.region (or AWS_REGION)')
  }
  if (CREDENTIAL_ERRORS.has(name)) {
    return fail(
      ErrorCodes.SINK_PERMISSION,
      `The store rejected the credentials: check the access key id and secret (or the role) used for ${bucket}`,
    )
  }
  if (ACCESS_ERRORS.has(name) || status === 401 || status === 403) {
    return fail(
      ErrorCodes.SINK_PERMISSION,
      `Access to bucket ${bucket} was denied: check the credentials and that their policy allows the ` +
        `S3Sink actions (see the README's IAM policy), and the KMS key policy when sse uses aws:kms`,
    )
  }
  if (name === 'NoSuchBucket' || (target === 'bucket' && status === 404)) {
    return fail(
      ErrorCodes.SINK_UNAVAILABLE,
      `Bucket ${bucket} does not exist at this endpoint: create it, or fix the bucket option, ` +
        `clientConfig.endpoint or clientConfig.region`,
    )
  }
  if (name === 'PermanentRedirect' || name === 'AuthorizationHeaderMalformed' || status === 301) {
    return fail(
      ErrorCodes.SINK_UNAVAILABLE,
      `Bucket ${bucket} is in another region: set clientConfig.region to the bucket's region`,
    )
  }
  if (
    UNAVAILABLE_ERRORS.has(name) ||
    (errno !== undefined && NETWORK_ERRNOS.has(errno)) ||
    (status !== undefined && status >= 500)
  ) {
    return fail(
      ErrorCodes.SINK_UNAVAILABLE,
      'The store is unreachable or failing: check clientConfig.endpoint and the network if it persists ' +
        '(uploads wait in the spool and are retried with backoff)',
    )
  }
  return fail(ErrorCodes.SINK_IO, 'Uploads wait in the spool and are retried with backoff')
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}
