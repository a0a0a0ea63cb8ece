import { createSecretKey, randomBytes, randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import jwt from 'jsonwebtoken'
import type { KeySet } from '../auth/key-set.js'
import { verifyToken, type TokenRejection } from '../auth/token-verifier.js'
import type { ResolvedAdminConfig, ResolvedConfig } from '../config.js'
import { ErrorCodes, type ErrorCode } from '../errors.js'
import type { AdminAction } from '../types.js'

export type AdminAuthResult =
  | {
      ok: true
      subject: string | undefined
      /** When the caller's credentials expire (epoch seconds); a link handed to them must not outlive it. */
      expiresAtSec: number | undefined
    }
  | { ok: false; status: 401 | 403; code: ErrorCode; message: string; reason: string }

export const SCOPE_FOR_ACTION: Readonly<Record<AdminAction, string>> = Object.freeze({
  read: 'profiles:read',
  write: 'profiles:write',
})

const LINK_KID = 'tripwire-link'
/** A hook that neither allows nor denies in this time denies: a request never hangs on it. */
const AUTHORIZE_TIMEOUT_MS = 10_000

/**
 * Who may use the admin API. In order: `insecureNoAuth`; a Bearer token (scope `profiles:read` for reads,
 * `profiles:write` for writes); on reads of one capture, a `?token=` link bound to that capture (a browser
 * cannot send a header when it opens a download or the viewer); the user's `authorize` hook, for requests
 * without a token. Nothing else gets in.
 *
 * Refusals say only what a caller can act on; why a token failed (unknown kid, bad signature, wrong aud) goes
 * to the log, not to whoever presented it.
 */
export class AdminAuthenticator {
  /** Signs the `?token=` links this process hands out. */
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
    if (this.admin.insecureNoAuth) return { ok: true, subject: undefined, expiresAtSec: undefined }
    const scope = SCOPE_FOR_ACTION[action]
    const authorization = req.headers.authorization
    if (authorization !== undefined) {
      const match = /^Bearer +(\S+)$/i.exec(authorization)
      if (match === null)
        return unauthorized('the Authorization header must be "Bearer <token>"', 'not-bearer')
      if (this.config.keys.byKid.size === 0)
        return unauthorized('this service accepts no Bearer tokens', 'no-keys')
      return this.checkToken(match[1]!, this.config.keys, scope, this.admin.maxTokenTtlSec, undefined)
    }
    const linkToken = url.searchParams.get('token')
    if (linkToken !== null && action === 'read' && captureId !== undefined) {
      return this.checkLink(linkToken, captureId)
    }
    if (this.admin.authorize !== undefined) return this.askHook(req, action)
    return unauthorized(
      `send "Authorization: Bearer <token>" with a token whose scope includes ${scope}`,
      'none',
    )
  }

  /**
   * A `?token=` value for reading one capture (download, viewer): bound to that capture, valid for
   * `admin.linkTtlSec`, and never longer than the credentials of whoever asked for it.
   */
  signLink(
    captureId: string,
    caller: { subject: string | undefined; expiresAtSec: number | undefined },
  ): string {
    const key = this.linkKeys.byKid.get(LINK_KID)!.key
    const nowSec = Math.floor(Date.now() / 1000)
    const expiresAtSec = Math.min(nowSec + this.admin.linkTtlSec, caller.expiresAtSec ?? Infinity)
    const claims = {
      scope: SCOPE_FOR_ACTION.read,
      cap: captureId,
      jti: randomUUID(),
      aud: this.config.token.audience,
      iat: nowSec,
      exp: Math.max(nowSec + 1, Math.floor(expiresAtSec)),
      ...(caller.subject && { sub: caller.subject }),
    }
    return jwt.sign(claims, key, { algorithm: 'HS256', keyid: LINK_KID })
  }

  /** Links this process signed, or a token from the key set that is just as narrow: a link's lifetime, one capture. */
  private checkLink(token: string, captureId: string): AdminAuthResult {
    const expect = {
      audience: this.config.token.audience,
      issuers: undefined,
      maxLifetimeSec: this.admin.linkTtlSec,
      clockToleranceSec: this.config.token.clockToleranceSec,
      scope: SCOPE_FOR_ACTION.read,
    }
    const signed = verifyToken(token, this.linkKeys, expect, Date.now() / 1000)
    const result = signed.ok
      ? {
          ok: true as const,
          subject: signed.claims.sub,
          expiresAtSec: signed.claims.exp,
          cap: signed.claims.cap,
        }
      : this.config.keys.byKid.size === 0
        ? this.refused(signed.reason, SCOPE_FOR_ACTION.read)
        : this.checkToken(token, this.config.keys, SCOPE_FOR_ACTION.read, this.admin.linkTtlSec, 'cap')
    if (!result.ok) return result
    // a general read token in a URL would leak every capture with it: links must name theirs
    if (!('cap' in result) || result.cap !== captureId)
      return forbidden('this link is for another capture', 'link-cap')
    return { ok: true, subject: result.subject, expiresAtSec: result.expiresAtSec }
  }

  private checkToken(
    token: string,
    keys: KeySet,
    scope: string,
    maxLifetimeSec: number,
    capClaim: 'cap' | undefined,
  ): AdminAuthResult | { ok: true; subject: string | undefined; expiresAtSec: number; cap: unknown } {
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
    if (!verdict.ok) return this.refused(verdict.reason, scope)
    const { sub, exp } = verdict.claims
    return capClaim === undefined
      ? { ok: true, subject: sub, expiresAtSec: exp }
      : { ok: true, subject: sub, expiresAtSec: exp, cap: verdict.claims.cap }
  }

  private refused(reason: TokenRejection, scope: string): AdminAuthResult {
    this.config.logger.debug('tripwire: admin token refused', { reason })
    return reason === 'missing-scope'
      ? forbidden(`the token's scope does not include ${scope}`, reason)
      : unauthorized(
          'the token was not accepted (expired, not for this service, or not signed by a known key)',
          reason,
        )
  }

  /** The hook allows with exactly `true`; anything else, a throw, or no answer in time denies. */
  private async askHook(req: IncomingMessage, action: AdminAction): Promise<AdminAuthResult> {
    const hook = this.admin.authorize!
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), AUTHORIZE_TIMEOUT_MS)
    })
    let allowed: unknown
    try {
      allowed = await Promise.race([Promise.resolve(hook(req, action)), late])
    } catch {
      allowed = false
    } finally {
      clearTimeout(timer)
    }
    return allowed === true
      ? { ok: true, subject: undefined, expiresAtSec: undefined }
      : forbidden('the authorize hook refused this request', 'hook')
  }
}

function unauthorized(message: string, reason: string): AdminAuthResult {
  return { ok: false, status: 401, code: ErrorCodes.UNAUTHORIZED, message, reason }
}

function forbidden(message: string, reason: string): AdminAuthResult {
  return { ok: false, status: 403, code: ErrorCodes.FORBIDDEN, message, reason }
}
