import { createSecretKey, randomBytes, randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import jwt from 'jsonwebtoken'
import type { KeySet } from '../auth/key-set.js'
import { verifyToken, type TokenRejection } from '../auth/token-verifier.js'
import type { ResolvedAdminConfig, ResolvedConfig } from '../config.js'
import { ErrorCodes, type ErrorCode } from '../errors.js'
import type { AdminAction } from '../types.js'

export type AdminAuthResult =
  | { ok: true; subject: string | undefined }
  | { ok: false; status: 401 | 403; code: ErrorCode; message: string }

export const SCOPE_FOR_ACTION: Readonly<Record<AdminAction, string>> = Object.freeze({
  read: 'profiles:read',
  write: 'profiles:write',
})

const LINK_KID = 'tripwire-link'

const REJECTION_MESSAGES: Readonly<Record<TokenRejection, string>> = Object.freeze({
  'too-long': 'the token is longer than 8 KiB',
  malformed: 'the token is not a well-formed JWT',
  'unknown-kid': 'the token names a key (kid) this service does not have',
  'algorithm-not-allowed': "the token's algorithm is not allowed for its key",
  'bad-signature': "the token's signature does not verify",
  'missing-exp': 'the token has no exp claim',
  expired: 'the token has expired',
  'not-yet-valid': 'the token is not valid yet (nbf or iat in the future)',
  'lifetime-too-long': "the token's lifetime is longer than this service allows",
  'wrong-audience': "the token's aud is not this service",
  'wrong-issuer': "the token's iss is not an allowed issuer",
  'missing-scope': 'the token lacks the scope this action needs',
})

/**
 * Who may use the admin API. In order: `insecureNoAuth`; a Bearer token (scope `profiles:read` for reads,
 * `profiles:write` for writes); on reads of one capture, a signed `?token=` link (a browser cannot send a
 * header when it opens a download or the viewer); the user's `authorize` hook. Nothing else gets in.
 */
export class AdminAuthenticator {
  /** Signs the `?token=` links this process hands out; they are short-lived and bound to one capture. */
  private readonly linkKeys: KeySet

  constructor(
    private readonly config: ResolvedConfig,
    private readonly admin: ResolvedAdminConfig,
  ) {
    const key = createSecretKey(randomBytes(32))
    const entry = { kid: LINK_KID, key, algorithms: new Set(['HS256'] as const) }
    this.linkKeys = Object.freeze({ byKid: new Map([[LINK_KID, entry]]), only: undefined })
  }

  async authorize(
    req: IncomingMessage,
    action: AdminAction,
    url: URL,
    captureId?: string,
  ): Promise<AdminAuthResult> {
    if (this.admin.insecureNoAuth) return { ok: true, subject: undefined }
    const scope = SCOPE_FOR_ACTION[action]
    const authorization = req.headers.authorization
    if (authorization !== undefined) {
      const match = /^Bearer +(\S+)$/i.exec(authorization)
      if (match === null) return unauthorized('the Authorization header must be "Bearer <token>"')
      if (this.config.keys.byKid.size === 0)
        return unauthorized('this service accepts no Bearer tokens (no keys)')
      return this.checkToken(match[1]!, this.config.keys, scope, this.admin.maxTokenTtlSec)
    }
    const linkToken = url.searchParams.get('token')
    if (linkToken !== null && action === 'read' && captureId !== undefined) {
      return this.checkLink(linkToken, captureId)
    }
    if (this.admin.authorize !== undefined) {
      let allowed: boolean
      try {
        allowed = await this.admin.authorize(req, action)
      } catch {
        allowed = false // a hook that throws denies; it never opens the door
      }
      return allowed ? { ok: true, subject: undefined } : forbidden('the authorize hook refused this request')
    }
    return unauthorized(`send "Authorization: Bearer <token>" with a token whose scope includes ${scope}`)
  }

  /** A `?token=` value for reading one capture (download, viewer), valid for `admin.linkTtlSec`. */
  signLink(captureId: string, subject: string | undefined): string {
    const key = this.linkKeys.byKid.get(LINK_KID)!.key
    const claims = {
      scope: SCOPE_FOR_ACTION.read,
      cap: captureId,
      jti: randomUUID(),
      ...(subject && { sub: subject }),
    }
    return jwt.sign(claims, key, {
      algorithm: 'HS256',
      keyid: LINK_KID,
      audience: this.config.token.audience,
      expiresIn: this.admin.linkTtlSec,
    })
  }

  /** Links this process signed, or a token from the key set that lives no longer than a link. */
  private checkLink(token: string, captureId: string): AdminAuthResult {
    const nowSec = Date.now() / 1000
    const expect = {
      audience: this.config.token.audience,
      issuers: undefined,
      maxLifetimeSec: this.admin.linkTtlSec,
      clockToleranceSec: this.config.token.clockToleranceSec,
      scope: SCOPE_FOR_ACTION.read,
    }
    const signed = verifyToken(token, this.linkKeys, expect, nowSec)
    if (signed.ok) {
      return signed.claims.cap === captureId
        ? { ok: true, subject: signed.claims.sub }
        : forbidden('this link is for another capture')
    }
    if (this.config.keys.byKid.size === 0) return unauthorized(REJECTION_MESSAGES[signed.reason])
    return this.checkToken(token, this.config.keys, SCOPE_FOR_ACTION.read, this.admin.linkTtlSec)
  }

  private checkToken(token: string, keys: KeySet, scope: string, maxLifetimeSec: number): AdminAuthResult {
    const verdict = verifyToken(
      token,
      keys,
      {
        audience: this.config.token.audience,
        issuers: this.config.token.issuers,
        maxLifetimeSec,
        clockToleranceSec: this.config.token.clockToleranceSec,
        scope,
      },
      Date.now() / 1000,
    )
    if (verdict.ok) return { ok: true, subject: verdict.claims.sub }
    const message = REJECTION_MESSAGES[verdict.reason]
    return verdict.reason === 'missing-scope' ? forbidden(`${message} (${scope})`) : unauthorized(message)
  }
}

function unauthorized(message: string): AdminAuthResult {
  return { ok: false, status: 401, code: ErrorCodes.UNAUTHORIZED, message }
}

function forbidden(message: string): AdminAuthResult {
  return { ok: false, status: 403, code: ErrorCodes.FORBIDDEN, message }
}
