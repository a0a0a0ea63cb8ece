import { CliError, oneLine, runtimeError, usageError } from '../cli-error.js'
import { TimedOut } from './idle-deadline.js'

/** TLS failures worth a hint: a private CA is the usual cause inside a company network. */
const TLS_CODES = /^(?:CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_|ERR_TLS_)/

/**
 * One line for a request that got no answer: refused, unresolvable, timed out, cut, or a TLS failure.
 * `stalled` says whether bytes had already arrived, so a timeout mid-download reads as such.
 */
export function networkError(error: unknown, url: URL, stalled = false): CliError {
  if (error instanceof CliError) return error
  if (error instanceof TimedOut) {
    return runtimeError(
      stalled
        ? `the transfer from ${url.host} stalled: nothing arrived for ${error.seconds} s (--timeout)`
        : `no answer from ${url.host} within ${error.seconds} s (raise it with --timeout SECONDS)`,
    )
  }
  const cause = (error as { cause?: unknown }).cause
  const code = (cause as { code?: unknown } | undefined)?.code
  const detail =
    cause instanceof Error ? cause.message : error instanceof Error ? error.message : String(error)
  if (code === 'ECONNREFUSED') {
    return runtimeError(`cannot connect to ${url.host}: connection refused (is the service running there?)`)
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return runtimeError(`cannot resolve ${url.hostname}: no such host`)
  }
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') {
    return runtimeError(`the connection to ${url.host} was cut before the answer was complete`)
  }
  if (typeof code === 'string' && TLS_CODES.test(code)) {
    return runtimeError(
      `TLS with ${url.host} failed: ${oneLine(detail)} (for a private CA, set NODE_EXTRA_CA_CERTS=ca.pem)`,
    )
  }
  // fetch refuses the ports browsers block (1, 9, 6000, …) before it dials
  if (detail === 'bad port') {
    return usageError(`port ${url.port} is one fetch refuses to use (a browser-unsafe port); use another`)
  }
  return runtimeError(`the request to ${url.host} failed: ${oneLine(detail)}`)
}
