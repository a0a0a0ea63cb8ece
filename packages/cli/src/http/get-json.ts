import { runtimeError } from '../cli-error.js'
import { IdleDeadline } from './idle-deadline.js'
import { networkError } from './network-error.js'
import { responseError } from './response-error.js'

/** Admin answers are metadata; anything near this size is not one. */
const MAX_JSON_BYTES = 32 * 1024 * 1024

export interface GetJsonOptions {
  /** The admin token, sent as `authorization: Bearer …`. */
  bearer: string
  timeoutSec: number
  /** Names the request in errors: `list`, `capture <id>`. */
  what: string
}

/** GETs an admin API route and parses its JSON; any failure is one line naming the request. */
export async function getJson(url: URL, { bearer, timeoutSec, what }: GetJsonOptions): Promise<unknown> {
  const deadline = new IdleDeadline(timeoutSec)
  try {
    let response: Response
    try {
      response = await fetch(url, {
        headers: { authorization: `Bearer ${bearer}`, accept: 'application/json' },
        // an admin API does not redirect its JSON; a redirect here is a proxy's login page or a wrong URL
        redirect: 'manual',
        signal: deadline.signal,
      })
    } catch (error) {
      throw networkError(error, url)
    }
    if (!response.ok) throw await responseError(response, url, what)
    let text: string
    try {
      text = await response.text()
    } catch (error) {
      throw networkError(error, url, true)
    }
    if (text.length > MAX_JSON_BYTES) throw runtimeError(`${what}: the answer from ${url.host} is too large`)
    try {
      return JSON.parse(text) as unknown
    } catch {
      throw runtimeError(
        `${what}: the answer from ${url.host}${url.pathname} is not JSON; is ADMIN_URL the admin prefix, as in http://host:port/_tripwire?`,
      )
    }
  } finally {
    deadline.clear()
  }
}
