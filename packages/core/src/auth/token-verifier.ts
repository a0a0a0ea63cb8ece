import { verify as verifySignature } from 'node:crypto'
import jwt from 'jsonwebtoken'
import type { KeySet, VerificationKey } from './key-set.js'

/** Why a token was refused; counted per reason, never echoed to the caller in detail. */
export type TokenRejection =
  | 'too-long'
  | 'malformed'
  | 'unknown-kid'
  | 'algorithm-not-allowed'
  | 'bad-signature'
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
 * flood of garbage costs a regular expression each. The signature is checked with `jsonwebtoken`, except
 * EdDSA, which `jsonwebtoken` does not support and `node:crypto` verifies directly; the claims are then
 * checked here, the same way for every algorithm.
 */
export function verifyToken(
  token: string,
  keys: KeySet,
  expect: TokenExpectations,
  nowSec: number,
): TokenVerdict {
  if (token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'too-long' }
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

  const signature = checkSignature(
    token,
    header.alg,
    key,
    `${headerSegment}.${payloadSegment}`,
    signatureSegment,
  )
  if (signature !== 'valid') return { ok: false, reason: signature }
  const claims = decodeSegment(payloadSegment)
  if (claims === undefined) return { ok: false, reason: 'malformed' }
  return checkClaims(claims, expect, nowSec)
}

function checkSignature(
  token: string,
  algorithm: string,
  key: VerificationKey,
  signingInput: string,
  signatureSegment: string,
): 'valid' | 'bad-signature' | 'malformed' {
  if (algorithm === 'EdDSA') {
    const valid = verifySignature(
      null,
      Buffer.from(signingInput),
      key.key,
      Buffer.from(signatureSegment, 'base64url'),
    )
    return valid ? 'valid' : 'bad-signature'
  }
  try {
    // the claims are checked below, identically for every algorithm
    jwt.verify(token, key.key, {
      algorithms: [algorithm as jwt.Algorithm],
      ignoreExpiration: true,
      ignoreNotBefore: true,
    })
    return 'valid'
  } catch (error) {
    return (error as Error).message === 'invalid signature' ? 'bad-signature' : 'malformed'
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
