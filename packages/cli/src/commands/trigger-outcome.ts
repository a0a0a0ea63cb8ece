import { ERROR_HEADER, ID_HEADER, STATUS_HEADER, TRIGGER_HEADER } from '@tripwire/core'
import { runtimeError, type CliError } from '../cli-error.js'

/** What the service said about the token, read off the response headers; `--json` prints it as it is. */
export interface TriggerResult {
  /** `accepted`, `busy`, `rate-limited` or `rejected`; `null` when the response has no status header. */
  status: string | null
  id: string | null
  httpStatus: number
  /** The service's error code, which it sends only for a token it verified. */
  error?: string
}

/** Header values go to a terminal: printable ASCII only, and short. */
function headerValue(response: Response, name: string): string | null {
  const value = response.headers.get(name)
  return value === null ? null : value.replace(/[^\x20-\x7e]/g, '?').slice(0, 200)
}

export function readOutcome(response: Response): TriggerResult {
  const error = headerValue(response, ERROR_HEADER)
  return {
    status: headerValue(response, STATUS_HEADER),
    id: headerValue(response, ID_HEADER),
    httpStatus: response.status,
    ...(error !== null && { error }),
  }
}

/** One line for every outcome but a started capture; `undefined` when the capture started. */
export function outcomeError(result: TriggerResult, url: URL): CliError | undefined {
  const code = result.error === undefined ? '' : ` (${ERROR_HEADER}: ${result.error})`
  switch (result.status) {
    case 'accepted':
      return result.id === null
        ? runtimeError(`the service accepted the token but sent no ${ID_HEADER} header`)
        : undefined
    case 'busy':
      return runtimeError(`busy: another capture is running in that process${code}; try again when it ends`)
    case 'rate-limited':
      return runtimeError(
        `rate limited: the service's capture budget or cooldown refused a capture${code}; try again later`,
      )
    case 'rejected':
      return runtimeError(
        result.error === undefined
          ? 'rejected: the service refused the token (wrong key, --kid or --aud, expired, replayed, or over ' +
              "the service's limits); its /_tripwire/status counts the reason"
          : `rejected: the service verified the token but could not start a capture${code}`,
      )
    case null:
      return runtimeError(
        `HTTP ${result.httpStatus} from ${url.host} without an ${STATUS_HEADER} header: Tripwire did not ` +
          `see ${TRIGGER_HEADER} there (is its middleware mounted before this route?)`,
      )
    default:
      return runtimeError(
        `the service answered ${STATUS_HEADER}: ${result.status}, which this CLI does not know`,
      )
  }
}
