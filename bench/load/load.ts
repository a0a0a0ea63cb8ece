/**
 * Load for one round: autocannon's programmatic API, in the benchmark's process (the server runs in another),
 * against 127.0.0.1 only.
 */
import autocannon from 'autocannon'
import { mintToken } from '@tripwire/core'
import { KID, PATH, SERVICE, WRONG_SECRET } from './scenarios.js'

export interface LoadOptions {
  port: number
  durationSec: number
  /** @default 16 */
  connections?: number
  /** Every request carries `x-trigger-profile: <invalidToken()>`. */
  attack?: boolean
}

export interface LoadResult {
  requestsPerSec: number
  latencyP50Ms: number
  latencyP99Ms: number
  requests: number
  errors: number
  timeouts: number
  non2xx: number
}

let token: string | undefined

/**
 * A well-formed trigger token for the right service and kid, signed with the wrong secret: what attack
 * traffic looks like. Every request fails signature verification.
 */
export function invalidToken(): string {
  token ??= mintToken({
    key: WRONG_SECRET,
    kid: KID,
    audience: SERVICE,
    scope: 'profiles:trigger',
    ttlSec: 3600,
    claims: { kind: 'cpu' },
  })
  return token
}

export async function load(options: LoadOptions): Promise<LoadResult> {
  const result = await autocannon({
    url: `http://127.0.0.1:${options.port}${PATH}`,
    connections: options.connections ?? 16,
    duration: options.durationSec,
    timeout: 10,
    ...(options.attack === true ? { headers: { 'x-trigger-profile': invalidToken() } } : {}),
  })
  return {
    requestsPerSec: result.requests.total / (result.duration > 0 ? result.duration : options.durationSec),
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    requests: result.requests.total,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
  }
}
