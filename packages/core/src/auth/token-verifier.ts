import { constants, createHmac, timingSafeEqual, verify as verifySignature } from 'node:crypto'
import type { JwtAlgorithm, KeySet, VerificationKey } from './key-set.js'

/** Why a token was refused; counted per reason, never echoed to the caller in detail. */
export type TokenRejection =
  | 'too-long'
  | 'malformed'
  | 'unknown-kid'
  | 'algorithm-not-allowed'
  | 'bad-signature'
  | 'over-verification-budget'
  | 'missing-exp'
  | 'expired'
  | 'not-yet-valid'
  | 'lifetime-too-long'
  | 'wrong-audience'
  | 'wrong-issuer'
  | 'missing-scope'

/** The registered claims Tripwire reads, plus whatever else the token carries. */
export interface TokenClaims {
  exp: number
  iat?: number
  nbf?: number
  jti?: string
  sub?: string
  aud?: string | string[]
  iss?: string
  scope?: string
  [claim: string]: unknown
}

export interface TokenExpectations {
  /** When set, `aud` must equal it (or, as an array, contain it). */
  audience: string | undefined
  /** When set, `iss` must be one of them. */
  issuers: readonly string[] | undefined
  /** `exp - iat` (or `exp - now` without `iat`) may not exceed this. */
  maxLifetimeSec: number
  clockToleranceSec: number
  /** The space-separated `scope` claim must contain this one. */
  scope: string
}

export type TokenVerdict = { ok: true; claims: TokenClaims } | { ok: false; reason: TokenRejection }

/** Longer tokens are refused before anything is parsed. */
export const MAX_TOKEN_LENGTH = 8192
const MAX_HEADER_SEGMENT = 1024
const COMPACT_JWS = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)$/

/**
 * Verifies a compact JWS. The cheap checks (length, shape, header, kid, algorithm) run before any crypto, so a
 * flood of garbage costs a regular expression each. The signature is checked with `node:crypto` for every
 * algorithm, then the claims, the same way for every algorithm.
 */
export function verifyToken(
  token: string,
  keys: KeySet,
  expect: TokenExpectations,
  nowSec: number,
  /**
   * Taken from just before the cryptography, after the cheap checks, and refuses the token when it says no.
   * Once it is spent for the second, tokens are refused before they are decoded: under a flood of forgeries,
   * decoding each one's header would cost more than the rest of the refusal.
   */
  budget?: { take(nowMs: number): boolean; spent(nowMs: number): boolean },
): TokenVerdict {
  if (token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'too-long' }
  if (budget !== undefined && budget.spent(nowSec * 1000)) {
    return { ok: false, reason: 'over-verification-budget' }
  }
  const parts = COMPACT_JWS.exec(token)
  if (parts === null) return { ok: false, reason: 'malformed' }
  const [, headerSegment, payloadSegment, signatureSegment] = parts as unknown as [
    string,
    string,
    string,
    string,
  ]
  if (headerSegment.length > MAX_HEADER_SEGMENT) return { ok: false, reason: 'malformed' }

  const header = decodeSegment(headerSegment)
  if (header === undefined || typeof header.alg !== 'string') return { ok: false, reason: 'malformed' }
  if (header.kid !== undefined && typeof header.kid !== 'string') return { ok: false, reason: 'malformed' }
  const key = header.kid === undefined ? keys.only : keys.byKid.get(header.kid)
  if (key === undefined) return { ok: false, reason: 'unknown-kid' }
  if (!(key.algorithms as ReadonlySet<string>).has(header.alg))
    return { ok: false, reason: 'algorithm-not-allowed' }
  if (signatureSegment === '') return { ok: false, reason: 'bad-signature' }

  if (budget !== undefined && !budget.take(nowSec * 1000))
    return { ok: false, reason: 'over-verification-budget' }
  const algorithm = header.alg as JwtAlgorithm
  if (!checkSignature(algorithm, key, `${headerSegment}.${payloadSegment}`, signatureSegment)) {
    return { ok: false, reason: 'bad-signature' }
  }
  const claims = decodeSegment(payloadSegment)
  if (claims === undefined) return { ok: false, reason: 'malformed' }
  return checkClaims(claims, expect, nowSec)
}

/** The digest each algorithm signs with; EdDSA hashes internally. */
const DIGESTS: Record<JwtAlgorithm, string | null> = {
  HS256: 'sha256',
  HS384: 'sha384',
  HS512: 'sha512',
  RS256: 'sha256',
  RS384: 'sha384',
  RS512: 'sha512',
  PS256: 'sha256',
  PS384: 'sha384',
  PS512: 'sha512',
  ES256: 'sha256',
  ES384: 'sha384',
  ES512: 'sha512',
  EdDSA: null,
}

/**
 * Checks a JWS signature with `node:crypto` directly. A refusal allocates no Error: attack traffic (every
 * request with a badly signed token) must cost about what a valid token costs, and the `Error` objects a
 * general-purpose JWT library throws per refusal were most of that cost.
 */
function checkSignature(
  algorithm: JwtAlgorithm,
  key: VerificationKey,
  signingInput: string,
  signatureSegment: string,
): boolean {
  const digest = DIGESTS[algorithm]
  if (algorithm.startsWith('HS')) {
    // Compared as base64url text, so only the one canonical encoding of the MAC is accepted
    const expected = Buffer.from(createHmac(digest!, key.key).update(signingInput).digest('base64url'))
    const given = Buffer.from(signatureSegment)
    return expected.length === given.length && timingSafeEqual(expected, given)
  }
  const signature = Buffer.from(signatureSegment, 'base64url')
  // base64url decoding skips what it cannot read: only a canonical encoding is the signature
  if (signature.toString('base64url') !== signatureSegment) return false
  const data = Buffer.from(signingInput)
  try {
    if (algorithm.startsWith('PS')) {
      return verifySignature(
        digest,
        data,
        {
          key: key.key,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
        },
        signature,
      )
    }
    if (algorithm.startsWith('ES')) {
      // JWS carries r ‖ s (IEEE P1363), not DER
      return verifySignature(digest, data, { key: key.key, dsaEncoding: 'ieee-p1363' }, signature)
    }
    return verifySignature(digest, data, key.key, signature)
  } catch {
    // e.g. an ECDSA signature of the wrong length
    return false
  }
}

function checkClaims(raw: Record<string, unknown>, expect: TokenExpectations, nowSec: number): TokenVerdict {
  const { clockToleranceSec: tolerance } = expect
  const { exp } = raw
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return { ok: false, reason: 'missing-exp' }
  if (!optionalNumber(raw.iat) || !optionalNumber(raw.nbf)) return { ok: false, reason: 'malformed' }
  const { iat, nbf } = raw as { iat?: number; nbf?: number }
  if (exp + tolerance <= nowSec) return { ok: false, reason: 'expired' }
  if ((nbf !== undefined && nbf - tolerance > nowSec) || (iat !== undefined && iat - tolerance > nowSec)) {
    return { ok: false, reason: 'not-yet-valid' }
  }
  if (exp - (iat ?? nowSec) > expect.maxLifetimeSec) return { ok: false, reason: 'lifetime-too-long' }

  if (expect.audience !== undefined) {
    const audiences = Array.isArray(raw.aud) ? raw.aud : [raw.aud]
    if (!audiences.includes(expect.audience)) return { ok: false, reason: 'wrong-audience' }
  }
  if (expect.issuers !== undefined && !(typeof raw.iss === 'string' && expect.issuers.includes(raw.iss))) {
    return { ok: false, reason: 'wrong-issuer' }
  }
  const scopes = typeof raw.scope === 'string' ? raw.scope.split(' ') : []
  if (!scopes.includes(expect.scope)) return { ok: false, reason: 'missing-scope' }
  for (const name of ['jti', 'sub', 'iss'] as const) {
    if (raw[name] !== undefined && typeof raw[name] !== 'string') return { ok: false, reason: 'malformed' }
  }
  return { ok: true, claims: raw as TokenClaims }
}

function optionalNumber(value: unknown): value is number | undefined {
  return value === undefined || (typeof value === 'number' && Number.isFinite(value))
}

function decodeSegment(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'))
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}
