/**
 * Real tokens for the conformance suite, minted the way an operator's tooling would: HS256 with the shared
 * secret, RS256 with a real RSA key, and the hostile variants (alg none, algorithm confusion).
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto'
import jwt from 'jsonwebtoken'

export const SERVICE = 'checkout'
export const ISSUER = 'tripwire-tests'
export const SECRET = 'conformance-secret-that-is-at-least-32-bytes-long'
export const HMAC_KID = 'k1'
export const RSA_KID = 'rsa1'

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
export const RSA_PUBLIC_PEM = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString()
const RSA_PRIVATE_PEM = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()

export type Claims = Record<string, unknown>

const nowSec = (): number => Math.floor(Date.now() / 1000)

/** A valid trigger token for this service; `claims` override or add claims (`undefined` removes one). */
export function triggerToken(claims: Claims = {}): string {
  return sign({ scope: 'profiles:trigger', jti: randomUUID(), ...claims })
}

/** A valid admin token with the given scopes. */
export function adminToken(scope = 'profiles:read profiles:write', claims: Claims = {}): string {
  return sign({ scope, ...claims })
}

export function sign(claims: Claims, options: { secret?: string; kid?: string } = {}): string {
  const payload = withDefaults(claims)
  return jwt.sign(payload, options.secret ?? SECRET, {
    algorithm: 'HS256',
    keyid: options.kid ?? HMAC_KID,
  })
}

/** RS256 with the real RSA key; `kid` may name another key (an RS256 token sent to an HMAC key). */
export function signRs256(claims: Claims, kid = RSA_KID): string {
  return jwt.sign(withDefaults(claims), RSA_PRIVATE_PEM, {
    algorithm: 'RS256',
    keyid: kid,
  })
}

/** An unsigned token (`alg: none`) that claims everything a trigger needs. */
export function unsignedToken(claims: Claims): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
  return `${encode({ alg: 'none', typ: 'JWT', kid: HMAC_KID })}.${encode(withDefaults(claims))}.`
}

/**
 * Algorithm confusion: an HS256 token whose HMAC key is the service's RSA *public* key, which an attacker
 * knows. A verifier that lets the token pick the algorithm for the RSA key would accept it.
 */
export function publicKeyAsHmacSecretToken(claims: Claims): string {
  return jwt.sign(withDefaults(claims), RSA_PUBLIC_PEM, {
    algorithm: 'HS256',
    keyid: RSA_KID,
  })
}

function withDefaults(claims: Claims): Claims {
  const now = nowSec()
  const merged: Claims = {
    aud: SERVICE,
    iss: ISSUER,
    iat: now,
    exp: now + 120,
    sub: 'conformance',
    ...claims,
  }
  for (const [key, value] of Object.entries(merged)) if (value === undefined) delete merged[key]
  return merged
}
