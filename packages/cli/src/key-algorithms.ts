import { ASYMMETRIC_ALGORITHMS, HMAC_ALGORITHMS, type JwtAlgorithm } from '@tripwire/core'

export { algorithmsForKey } from '@tripwire/core'

/** Every algorithm a Tripwire service verifies, in the order `--help` lists them; `none` is never one. */
export const ALGORITHMS: readonly JwtAlgorithm[] = [...HMAC_ALGORITHMS, ...ASYMMETRIC_ALGORITHMS]

export function isAlgorithm(value: string): value is JwtAlgorithm {
  return (ALGORITHMS as readonly string[]).includes(value)
}

export function isHmacAlgorithm(value: JwtAlgorithm): boolean {
  return (HMAC_ALGORITHMS as readonly string[]).includes(value)
}
