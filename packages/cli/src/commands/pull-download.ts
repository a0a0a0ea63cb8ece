import { runtimeError } from '../cli-error.js'
import type { IdleDeadline } from '../http/idle-deadline.js'
import { networkError } from '../http/network-error.js'
import { responseError } from '../http/response-error.js'

const REDIRECTS = new Set([301, 302, 303, 307, 308])
const MAX_REDIRECTS = 5

export interface OpenedDownload {
  response: Response
  /** Where the body comes from: the admin API, or the object store it redirected to. */
  url: URL
}

/**
 * GETs the profile route and follows its redirect to a presigned URL (an S3 sink's) WITHOUT the admin token:
 * the presigned URL authorizes itself, and the token must reach no server but the service. A redirect from
 * https to http is refused, as the link in it is as good as a password while it lasts.
 */
export async function openDownload(
  url: URL,
  bearer: string,
  deadline: IdleDeadline,
  what: string,
): Promise<OpenedDownload> {
  let current = url
  for (let hops = 0; ; hops++) {
    const fromService = hops === 0
    let response: Response
    try {
      response = await fetch(current, {
        headers: fromService ? { authorization: `Bearer ${bearer}` } : {},
        redirect: 'manual',
        signal: deadline.signal,
      })
    } catch (error) {
      throw networkError(error, current)
    }
    if (response.ok) return { response, url: current }
    if (!REDIRECTS.has(response.status)) {
      if (fromService) throw await responseError(response, current, what)
      await response.body?.cancel()
      throw runtimeError(
        `${what}: ${response.status} from the storage at ${current.host}; a presigned link lasts minutes, so try again`,
      )
    }
    await response.body?.cancel()
    const location = response.headers.get('location')
    if (location === null)
      throw runtimeError(`${what}: ${current.host} answered ${response.status} without a Location`)
    if (hops + 1 > MAX_REDIRECTS) throw runtimeError(`${what}: more than ${MAX_REDIRECTS} redirects`)
    const next = new URL(location, current)
    if (next.protocol !== 'http:' && next.protocol !== 'https:') {
      throw runtimeError(
        `${what}: ${current.host} redirected to a ${next.protocol} URL, which is not a download`,
      )
    }
    if (current.protocol === 'https:' && next.protocol === 'http:') {
      throw runtimeError(`${what}: ${current.host} redirected from https to plain http; refused`)
    }
    current = next
  }
}
