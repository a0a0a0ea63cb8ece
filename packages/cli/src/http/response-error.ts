import { STATUS_CODES } from 'node:http'
import { oneLine, runtimeError, type CliError } from '../cli-error.js'
import { bodyChunks } from './body-chunks.js'

/** An error body is a sentence or two; more is not a Tripwire error and is not worth reading. */
const MAX_ERROR_BODY = 16 * 1024
const MAX_MESSAGE = 300

/**
 * One line for an admin API answer that is not a success: the status, and the server's own
 * `{ "error": { "message" } }` when it sent one, which says more than any guess made here.
 * `what` names the request, as in `list` or `capture 2026…`.
 */
export async function responseError(response: Response, url: URL, what: string): Promise<CliError> {
  const status = `${response.status} ${(STATUS_CODES[response.status] ?? 'error').toLowerCase()}`
  const message = await serverMessage(response)
  if (message !== undefined) return runtimeError(`${what}: ${status}: ${message}${hint(response.status)}`)
  if (response.status === 404) {
    return runtimeError(
      `${what}: ${status} at ${url.host}${url.pathname}: no Tripwire admin API there; ADMIN_URL is the ` +
        "service's admin prefix, as in http://host:port/_tripwire",
    )
  }
  return runtimeError(`${what}: ${status} from ${url.host}${hint(response.status)}`)
}

function hint(status: number): string {
  if (status === 401) return ' (check --kid, --aud and the key, or the token in --token-env)'
  if (status === 403) return ' (the token lacks the scope; reading needs profiles:read)'
  return ''
}

async function serverMessage(response: Response): Promise<string | undefined> {
  let text: string
  try {
    text = await boundedText(response)
  } catch {
    return undefined
  }
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    return undefined
  }
  const message = (body as { error?: { message?: unknown } } | null)?.error?.message
  if (typeof message !== 'string' || message.trim() === '') return undefined
  // the service's text goes to a terminal: no control characters, no screenful
  // eslint-disable-next-line no-control-regex
  const clean = oneLine(message.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' '))
  return clean.length > MAX_MESSAGE ? `${clean.slice(0, MAX_MESSAGE)}…` : clean
}

async function boundedText(response: Response): Promise<string> {
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of bodyChunks(response)) {
    chunks.push(chunk)
    size += chunk.length
    // leaving the loop cancels the rest of the body
    if (size > MAX_ERROR_BODY) break
  }
  return Buffer.concat(chunks).toString('utf8')
}
