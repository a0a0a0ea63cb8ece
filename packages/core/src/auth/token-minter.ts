import { createPrivateKey, createSecretKey, randomUUID, sign as signBytes, type KeyObject } from 'node:crypto'
import jwt from 'jsonwebtoken'
import { ErrorCodes, TripwireError } from '../errors.js'
import { algorithmsForKey, type JwtAlgorithm } from './key-set.js'

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
 * trigger token is single-use by construction. EdDSA is signed with `node:crypto`, which `jsonwebtoken` lacks.
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
  if (algorithm === 'EdDSA') return signEdDsa(payload, key, options.kid)
  // payload.iat is ours; jsonwebtoken keeps a given iat (its noTimestamp option would delete it)
  return jwt.sign(payload, key, { algorithm, keyid: options.kid })
}

function resolveSigningKey(
  input: string | Buffer | KeyObject,
  requested: JwtAlgorithm | undefined,
): { key: KeyObject; algorithm: JwtAlgorithm } {
  const looksLikePem =
    (typeof input === 'string' || Buffer.isBuffer(input)) && input.toString().includes('-----BEGIN')
  if (typeof input === 'object' && !Buffer.isBuffer(input) && input.type === 'private') {
    return { key: input, algorithm: requested ?? impliedAlgorithm(input) }
  }
  if (looksLikePem) {
    const key = createPrivateKey(input)
    return { key, algorithm: requested ?? impliedAlgorithm(key) }
  }
  const secret =
    typeof input === 'string' || Buffer.isBuffer(input) ? createSecretKey(Buffer.from(input)) : input
  const algorithm = requested ?? 'HS256'
  if (!algorithm.startsWith('HS')) {
    throw new TripwireError(
      ErrorCodes.INVALID_OPTIONS,
      `mintToken: ${algorithm} needs a private key, not a secret`,
    )
  }
  return { key: secret, algorithm }
}

/** The first algorithm a service would verify this key with: RS256, PS256, ES256/384/512 by curve, EdDSA. */
function impliedAlgorithm(key: KeyObject): JwtAlgorithm {
  const algorithm = algorithmsForKey(key)[0]
  if (algorithm === undefined) {
    throw new TripwireError(
      ErrorCodes.INVALID_OPTIONS,
      `mintToken: keys of type ${key.asymmetricKeyType} cannot sign tokens; use RSA, EC or Ed25519`,
    )
  }
  return algorithm
}

function signEdDsa(payload: Record<string, unknown>, key: KeyObject, kid: string): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const signingInput = `${encode({ alg: 'EdDSA', typ: 'JWT', kid })}.${encode(payload)}`
  return `${signingInput}.${signBytes(null, Buffer.from(signingInput), key).toString('base64url')}`
}
