import { createPublicKey, createSecretKey, KeyObject } from 'node:crypto'
import type { OptionChecker } from '../option-checks.js'

/** Every algorithm Tripwire accepts. `none` is never among them. */
export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const
export type JwtAlgorithm = (typeof HMAC_ALGORITHMS)[number] | (typeof ASYMMETRIC_ALGORITHMS)[number]

/** An HMAC secret shared with whoever mints tokens. */
export interface SecretKeyOption {
  kid: string
  /** At least 32 bytes: shorter HMAC secrets can be brute-forced from one captured token. */
  secret: string | Buffer
  /** @default ['HS256'] */
  algorithms?: ('HS256' | 'HS384' | 'HS512')[]
}

/** A public key; the private key stays with whoever mints tokens. */
export interface PublicKeyOption {
  kid: string
  /** PEM (SPKI or certificate) or a `KeyObject`. */
  publicKey: string | Buffer | KeyObject
  /** @default the one algorithm the key's type implies (RS256, PS256, ES256/384/512 by curve, EdDSA) */
  algorithms?: JwtAlgorithm[]
}

export type KeyOption = SecretKeyOption | PublicKeyOption

export interface VerificationKey {
  kid: string
  key: KeyObject
  /** The algorithms this key may verify; a token's `alg` must be one of them. */
  algorithms: ReadonlySet<JwtAlgorithm>
}

/** Keys by `kid`, frozen. With one key, tokens without a `kid` use it. */
export interface KeySet {
  readonly byKid: ReadonlyMap<string, VerificationKey>
  readonly only: VerificationKey | undefined
}

const MIN_SECRET_BYTES = 32

/**
 * Which algorithms a key type can verify. Tying algorithms to the key's own type is what defeats algorithm
 * confusion: an HS256 token can never be checked against an RSA public key used as an HMAC secret.
 */
export function algorithmsForKey(key: KeyObject): readonly JwtAlgorithm[] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
    case 'rsa-pss':
      return ['PS256', 'PS384', 'PS512']
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve
      if (curve === 'prime256v1') return ['ES256']
      if (curve === 'secp384r1') return ['ES384']
      if (curve === 'secp521r1') return ['ES512']
      return []
    }
    case 'ed25519':
      return ['EdDSA']
    default:
      return []
  }
}

export function resolveKeySet(check: OptionChecker, value: unknown): KeySet {
  if (value === undefined) return Object.freeze({ byKid: new Map(), only: undefined })
  if (!Array.isArray(value) || value.length === 0) {
    check.fail(
      'keys',
      'must be a non-empty array such as [{ kid: "k1", secret: process.env.TRIPWIRE_SECRET }]',
    )
  }
  const byKid = new Map<string, VerificationKey>()
  value.forEach((raw: unknown, index) => {
    const path = `keys[${index}]`
    const option = check.object(path, raw, ['kid', 'secret', 'publicKey', 'algorithms'])
    const kid = check.string(`${path}.kid`, option.kid)
    if (byKid.has(kid)) check.fail(`${path}.kid`, `repeats "${kid}": each key needs its own kid`)
    const hasSecret = option.secret !== undefined
    if (hasSecret === (option.publicKey !== undefined)) {
      check.fail(path, 'must have exactly one of "secret" (HMAC) or "publicKey" (RS/PS/ES/EdDSA)')
    }
    const entry = hasSecret ? secretKey(check, path, kid, option) : publicKey(check, path, kid, option)
    byKid.set(kid, entry)
  })
  return Object.freeze({ byKid, only: byKid.size === 1 ? [...byKid.values()][0] : undefined })
}

function secretKey(
  check: OptionChecker,
  path: string,
  kid: string,
  option: Record<string, unknown>,
): VerificationKey {
  const secret = option.secret
  const bytes =
    typeof secret === 'string' ? Buffer.from(secret) : Buffer.isBuffer(secret) ? secret : undefined
  if (bytes === undefined) check.fail(`${path}.secret`, 'must be a string or a Buffer')
  if (bytes.length < MIN_SECRET_BYTES) {
    check.fail(
      `${path}.secret`,
      `must be at least ${MIN_SECRET_BYTES} bytes (got ${bytes.length}); generate one with: openssl rand -base64 48`,
    )
  }
  const algorithms = checkAlgorithms(check, `${path}.algorithms`, option.algorithms, HMAC_ALGORITHMS, [
    'HS256',
  ])
  return { kid, key: createSecretKey(bytes), algorithms }
}

function publicKey(
  check: OptionChecker,
  path: string,
  kid: string,
  option: Record<string, unknown>,
): VerificationKey {
  const input = option.publicKey
  // createPublicKey() would quietly derive the public half of a private key: a private key in a server's
  // configuration is a leak waiting to happen, so it is refused rather than accepted
  const isPrivate =
    input instanceof KeyObject ? input.type !== 'public' : String(input).includes('PRIVATE KEY-----')
  if (isPrivate) check.fail(`${path}.publicKey`, 'must be a public key, never a private one or a secret')
  let key: KeyObject
  try {
    key = input instanceof KeyObject ? input : createPublicKey(input as string | Buffer)
  } catch (error) {
    check.fail(
      `${path}.publicKey`,
      `is not a public key Node can read (PEM SPKI or certificate): ${(error as Error).message}`,
    )
  }
  const modulusLength = key.asymmetricKeyDetails?.modulusLength
  if (modulusLength !== undefined && modulusLength < 2048) {
    check.fail(`${path}.publicKey`, `is a ${modulusLength}-bit RSA key; use at least 2048 bits`)
  }
  const possible = algorithmsForKey(key)
  if (possible.length === 0) {
    check.fail(
      `${path}.publicKey`,
      `has an unsupported type (${key.asymmetricKeyType}); use RSA, EC P-256/384/521 or Ed25519`,
    )
  }
  const algorithms = checkAlgorithms(check, `${path}.algorithms`, option.algorithms, possible, [possible[0]!])
  return { kid, key, algorithms }
}

function checkAlgorithms(
  check: OptionChecker,
  path: string,
  value: unknown,
  allowed: readonly JwtAlgorithm[],
  fallback: JwtAlgorithm[],
): ReadonlySet<JwtAlgorithm> {
  if (value === undefined) return new Set(fallback)
  if (!Array.isArray(value) || value.length === 0)
    check.fail(path, `must be a non-empty array of ${allowed.join(', ')}`)
  for (const algorithm of value) {
    if (!allowed.includes(algorithm as JwtAlgorithm)) {
      check.fail(
        path,
        `cannot hold ${JSON.stringify(algorithm)} for this key; it may hold ${allowed.join(', ')}`,
      )
    }
  }
  return new Set(value as JwtAlgorithm[])
}
