import {
  constants,
  createHmac,
  createPrivateKey,
  createSecretKey,
  randomUUID,
  sign as signBytes,
  type KeyObject,
} from 'node:crypto'
import { ErrorCodes, TripwireError } from '../errors.js'
import { algorithmsForKey, HMAC_ALGORITHMS, type JwtAlgorithm } from './key-set.js'

/** Shorter RSA keys are refused: they are breakable, and the common JWT libraries refuse them too. */
const MIN_RSA_BITS = 2048

export interface MintTokenOptions {
  /** An HMAC secret (HS*), or a private key (PEM or `KeyObject`) for RS/PS/ES/EdDSA. */
  key: string | Buffer | KeyObject
  /** @default 'HS256' for a secret; for a private key, the algorithm its type implies */
  algorithm?: JwtAlgorithm
  kid: string
  /** The service the token is for (its `aud`). */
  audience: string
  issuer?: string
  /** Who is asking; recorded in capture metadata. */
  subject?: string
  /** Space-separated: `profiles:trigger`, `profiles:read`, `profiles:write`. */
  scope: string
  /** Seconds from now until `exp`. */
  ttlSec: number
  /** Extra claims: `kind`, `mode`, `dur` for trigger tokens. */
  claims?: Record<string, unknown>
}

/**
 * Mints a token that Tripwire verifies: for scripts, the CLI and tests. Every token gets a fresh `jti`, so a
 * trigger token is single-use by construction. Signed with `node:crypto` for every algorithm, as it is verified:
 * a claim may be named anything, `constructor` included.
 */
export function mintToken(options: MintTokenOptions): string {
  const { key, algorithm } = resolveSigningKey(options.key, options.algorithm)
  const nowSec = Math.floor(Date.now() / 1000)
  const payload: Record<string, unknown> = {
    ...options.claims,
    scope: options.scope,
    aud: options.audience,
    iat: nowSec,
    exp: nowSec + options.ttlSec,
    jti: randomUUID(),
    ...(options.issuer !== undefined && { iss: options.issuer }),
    ...(options.subject !== undefined && { sub: options.subject }),
  }
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const signingInput = `${encode({ alg: algorithm, typ: 'JWT', kid: options.kid })}.${encode(payload)}`
  let signed: Buffer
  try {
    signed = signature(algorithm, key, Buffer.from(signingInput))
  } catch (error) {
    // e.g. an RSA-PSS key restricted to another digest
    throw new TripwireError(
      ErrorCodes.INVALID_OPTIONS,
      `mintToken: this key cannot sign ${algorithm}: ${(error as Error).message}`,
      { cause: error },
    )
  }
  return `${signingInput}.${signed.toString('base64url')}`
}

/** The JWS signature (RFC 7518): HMAC, RSASSA-PKCS1-v1_5, RSASSA-PSS, ECDSA as r ‖ s, or Ed25519. */
function signature(algorithm: JwtAlgorithm, key: KeyObject, data: Buffer): Buffer {
  if (algorithm === 'EdDSA') return signBytes(null, data, key)
  const digest = `sha${algorithm.slice(2)}`
  if (algorithm.startsWith('HS')) return createHmac(digest, key).update(data).digest()
  if (algorithm.startsWith('PS')) {
    return signBytes(digest, data, {
      key,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
    })
  }
  if (algorithm.startsWith('ES')) return signBytes(digest, data, { key, dsaEncoding: 'ieee-p1363' })
  return signBytes(digest, data, key)
}

function resolveSigningKey(
  input: string | Buffer | KeyObject,
  requested: JwtAlgorithm | undefined,
): { key: KeyObject; algorithm: JwtAlgorithm } {
  const looksLikePem =
    (typeof input === 'string' || Buffer.isBuffer(input)) && input.toString().includes('-----BEGIN')
  if (typeof input === 'object' && !Buffer.isBuffer(input) && input.type === 'private') {
    return { key: input, algorithm: checkedAlgorithm(input, requested) }
  }
  if (looksLikePem) {
    const key = createPrivateKey(input)
    return { key, algorithm: checkedAlgorithm(key, requested) }
  }
  const secret =
    typeof input === 'string' || Buffer.isBuffer(input) ? createSecretKey(Buffer.from(input)) : input
  const algorithm = requested ?? 'HS256'
  if (!(HMAC_ALGORITHMS as readonly string[]).includes(algorithm)) {
    throw new TripwireError(
      ErrorCodes.INVALID_OPTIONS,
      `mintToken: ${algorithm} needs a private key, not a secret`,
    )
  }
  return { key: secret, algorithm }
}

/**
 * The algorithm asked for, or the first one a service would verify this key with (RS256, PS256, ES256/384/512
 * by curve, EdDSA); refused when the key cannot make it, or is an RSA key under MIN_RSA_BITS.
 */
function checkedAlgorithm(key: KeyObject, requested: JwtAlgorithm | undefined): JwtAlgorithm {
  const possible = algorithmsForKey(key)
  if (possible.length === 0) {
    throw new TripwireError(
      ErrorCodes.INVALID_OPTIONS,
      `mintToken: keys of type ${key.asymmetricKeyType} cannot sign tokens; use RSA, EC or Ed25519`,
    )
  }
  const algorithm = requested ?? possible[0]!
  if (!possible.includes(algorithm)) {
    throw new TripwireError(
      ErrorCodes.INVALID_OPTIONS,
      `mintToken: a ${key.asymmetricKeyType} key cannot sign ${algorithm}; it signs ${possible.join(', ')}`,
    )
  }
  const bits = key.asymmetricKeyDetails?.modulusLength
  if (bits !== undefined && bits < MIN_RSA_BITS) {
    throw new TripwireError(
      ErrorCodes.INVALID_OPTIONS,
      `mintToken: the RSA key has ${bits} bits; ${MIN_RSA_BITS} or more are needed`,
    )
  }
  return algorithm
}
