/**
 * Load for one round: autocannon's programmatic API, in the benchmark's process (the server runs in another),
 * against 127.0.0.1 only.
 */
import autocannon, { type Options as AutocannonOptions } from 'autocannon'
import { mintToken } from '@tripwire/core'
import { KID, PATH, SERVICE, WRONG_SECRET } from './scenarios.js'

export interface LoadOptions {
  port: number
  durationSec: number
  /** @default 16 */
  connections?: number
  /**
   * `replayed`: every request carries the same forged `x-trigger-profile` token. `fresh`: each carries another
   * one, in turn from a pool larger than the server's memory of forged tokens, so every one is verified.
   */
  attack?: 'replayed' | 'fresh' | undefined
  /**
   * autocannon's sample interval, which is also how often it checks whether `durationSec` is over: a load
   * lasts `durationSec` rounded up to a whole tick (with the default, 1.2 s lasts 2 s).
   * @default 1000 (autocannon's)
   */
  tickMs?: number
}

export interface LoadResult {
  requestsPerSec: number
  /** How long the load ran, as autocannon measured it. */
  durationSec: number
  latencyP50Ms: number
  latencyP99Ms: number
  requests: number
  errors: number
  timeouts: number
  non2xx: number
}

// More distinct tokens than the 1,024 forged tokens a server remembers: cycled through, none is remembered
const FRESH_POOL_SIZE = 4096
let replayedToken: string | undefined
let freshTokens: string[] | undefined

/**
 * A well-formed trigger token for the right service and kid, signed with the wrong secret: what attack
 * traffic looks like. Every request fails signature verification. Each has its own jti, so each is distinct.
 */
function forgedToken(): string {
  return mintToken({
    key: WRONG_SECRET,
    kid: KID,
    audience: SERVICE,
    scope: 'profiles:trigger',
    ttlSec: 3600,
    claims: { kind: 'cpu' },
  })
}

function attackOptions(attack: LoadOptions['attack']): Partial<AutocannonOptions> {
  if (attack === 'replayed') {
    replayedToken ??= forgedToken()
    return { headers: { 'x-trigger-profile': replayedToken } }
  }
  if (attack === 'fresh') {
    const pool = (freshTokens ??= Array.from({ length: FRESH_POOL_SIZE }, forgedToken))
    let next = 0
    return {
      requests: [
        {
          setupRequest: (request) => {
            const token = pool[next]!
            next = (next + 1) % pool.length
            return { ...request, headers: { ...request.headers, 'x-trigger-profile': token } }
          },
        },
      ],
    }
  }
  return {}
}

export async function load(options: LoadOptions): Promise<LoadResult> {
  const result = await autocannon({
    url: `http://127.0.0.1:${options.port}${PATH}`,
    connections: options.connections ?? 16,
    duration: options.durationSec,
    timeout: 10,
    sampleInt: options.tickMs ?? 1000,
    ...attackOptions(options.attack),
  })
  const durationSec = result.duration > 0 ? result.duration : options.durationSec
  return {
    requestsPerSec: result.requests.total / durationSec,
    durationSec,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    requests: result.requests.total,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
  }
}
