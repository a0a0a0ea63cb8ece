import type { IncomingMessage, ServerResponse } from 'node:http'
import { ForgedTokenCache } from '../auth/forged-token-cache.js'
import { ReplayCache } from '../auth/replay-cache.js'
import { VerificationBudget } from '../auth/verification-budget.js'
import { verifyToken, type TokenExpectations, type TokenRejection } from '../auth/token-verifier.js'
import type { CaptureHandle, TripwireController } from '../controller.js'
import { ErrorCodes, isTripwireError } from '../errors.js'
import { routeOrUndefined, type RouteOf } from '../route-of.js'
import { UNMATCHED_ROUTE } from '../latency/route-latency.js'
import type { CaptureRequestInfo } from '../types.js'
import { onResponseFinished } from './response-finished.js'
import { removeRequestHeader } from './remove-request-header.js'
import { readTriggerClaims, type ClaimRejection, type TriggerRequest } from './trigger-claims.js'

export const TRIGGER_HEADER = 'x-trigger-profile'
export const STATUS_HEADER = 'x-profile-status'
export const ID_HEADER = 'x-profile-id'
/** Set only for verified tokens, so an attacker learns nothing from it. */
export const ERROR_HEADER = 'x-profile-error'
export const TRIGGER_SCOPE = 'profiles:trigger'

/**
 * Where an answer header goes: a `ServerResponse` is one. Fastify writes a reply's own headers in one
 * `writeHead`, and a header set on the raw response before that sends the response down Node's slower path,
 * measured at ~7 % of a tiny handler's throughput when every request carries a forged token. Its adapter so
 * hands its reply for the answer to a refused token, the answer every request of an attack gets. A verified
 * token's answer (`accepted` and its `x-profile-id`, `busy`, …) stays on the raw response, which a route that
 * writes the raw response itself sends too.
 */
export interface AnswerHeaders {
  readonly headersSent: boolean
  setHeader(name: string, value: string): unknown
}

/** The answer headers of a request's context, asked for only when a token is refused. */
export type AnswerHeadersOf<Context> = (context: Context) => AnswerHeaders

export type TriggerOutcome = 'accepted' | 'busy' | 'rate-limited' | 'rejected'

/** Why a header was refused before any capture was asked for. */
export type HeaderRejection = TokenRejection | ClaimRejection | 'no-keys' | 'replayed' | 'replay-cache-full'

export interface HeaderTriggerStatus {
  accepted: number
  busy: number
  rateLimited: number
  /** Tokens refused before a capture was asked for, by reason. */
  rejected: Partial<Record<HeaderRejection, number>>
  /** Verified tokens whose capture could not start for another reason, by error code. */
  failed: Partial<Record<string, number>>
  replayCacheSize: number
  /** Forged tokens remembered (at most 1,024), refused again without cryptography. */
  forgedCacheSize: number
}

/**
 * The signed `x-trigger-profile` header. A request without it costs one property lookup. A bad token never
 * breaks or slows the request it rides on: it is counted, `x-profile-status: rejected` is set, and the request
 * proceeds. Verification is synchronous and cheap shape checks run before any crypto.
 */
export class HeaderTrigger {
  private readonly replay: ReplayCache
  private readonly forged = new ForgedTokenCache()
  private readonly budget: VerificationBudget
  private readonly expectations: TokenExpectations
  private readonly counts: HeaderTriggerStatus

  constructor(private readonly controller: TripwireController) {
    const { token } = controller.config
    this.replay = new ReplayCache(token.replayCacheSize)
    this.budget = new VerificationBudget(token.maxVerificationsPerSec)
    this.expectations = {
      audience: token.audience,
      issuers: token.issuers,
      maxLifetimeSec: token.maxTtlSec,
      clockToleranceSec: token.clockToleranceSec,
      scope: TRIGGER_SCOPE,
    }
    this.counts = {
      accepted: 0,
      busy: 0,
      rateLimited: 0,
      rejected: {},
      failed: {},
      replayCacheSize: 0,
      forgedCacheSize: 0,
    }
  }

  /**
   * Call for every request, before its handler. Returns `undefined` when the handler may run at once (no
   * header, or a refused one), otherwise a promise that resolves, never rejects, once the capture has started
   * or been refused. `routeOf(context)` is asked for the route template when the capture ends. The answer
   * headers (`x-profile-status`, …) are set on `res`; a token refused before any capture was asked for is
   * answered on `refusalOf(context)` instead, when given (see `AnswerHeaders`).
   */
  beforeRequest<Context>(
    req: IncomingMessage,
    res: ServerResponse,
    routeOf: RouteOf<Context>,
    context: Context,
    refusalOf?: AnswerHeadersOf<Context>,
  ): Promise<void> | undefined {
    const value = req.headers[TRIGGER_HEADER]
    if (value === undefined) return undefined
    // the application (and its request logger) never sees the token
    removeRequestHeader(req, TRIGGER_HEADER)
    const checked = this.check(Array.isArray(value) ? value.join(',') : value)
    if ('reason' in checked) {
      this.counts.rejected[checked.reason] = (this.counts.rejected[checked.reason] ?? 0) + 1
      this.controller.audit.refusedUnidentified('header', checked.reason)
      setHeader(refusalOf === undefined ? res : refusalOf(context), STATUS_HEADER, 'rejected')
      return undefined
    }
    return this.startCapture(checked.request, res, () => requestInfo(req, routeOf, context))
  }

  status(): HeaderTriggerStatus {
    return {
      ...structuredClone(this.counts),
      replayCacheSize: this.replay.size,
      forgedCacheSize: this.forged.size,
    }
  }

  private check(token: string): { request: TriggerRequest } | { reason: HeaderRejection } {
    const { keys } = this.controller.config
    if (keys.byKid.size === 0) return { reason: 'no-keys' }
    if (this.forged.has(token)) return { reason: 'bad-signature' }
    const nowSec = Date.now() / 1000
    const verdict = verifyToken(token, keys, this.expectations, nowSec, this.budget)
    if (!verdict.ok) {
      if (verdict.reason === 'bad-signature') this.forged.remember(token)
      return { reason: verdict.reason }
    }
    const claims = readTriggerClaims(verdict.claims, this.controller.config)
    if (!claims.ok) return { reason: claims.reason }
    // last, so that a token refused for its claims does not also fill the cache
    // the verifier accepts a token until exp + tolerance: it must stay single-use until then too
    const replay = this.replay.use(
      claims.request.jti,
      claims.request.exp + this.expectations.clockToleranceSec,
      nowSec,
    )
    if (replay === 'replayed') return { reason: 'replayed' }
    if (replay === 'full') return { reason: 'replay-cache-full' }
    return { request: claims.request }
  }

  private async startCapture(
    trigger: TriggerRequest,
    res: ServerResponse,
    requestOf: () => CaptureRequestInfo,
  ): Promise<void> {
    let handle: CaptureHandle
    try {
      handle = await this.controller.start({
        kind: trigger.kind,
        ...(trigger.mode === 'window' ? { durationMs: trigger.durationMs! } : {}),
        ...(trigger.mode === 'request' ? { mode: 'request' as const } : {}),
        trigger: {
          type: 'header',
          reason: `signed ${TRIGGER_HEADER} header (${trigger.mode})`,
          // recorded for audit, trimmed to what metadata holds: a long sub must not refuse a valid token
          ...(trigger.subject !== undefined &&
            trigger.subject !== '' && { subject: trigger.subject.slice(0, 512) }),
        },
      })
    } catch (error) {
      const code = isTripwireError(error) ? error.code : ErrorCodes.INSPECTOR_FAILED
      const outcome: TriggerOutcome =
        code === ErrorCodes.BUSY
          ? 'busy'
          : code === ErrorCodes.RATE_LIMITED || code === ErrorCodes.COOLDOWN
            ? 'rate-limited'
            : 'rejected'
      if (outcome === 'busy') this.counts.busy++
      else if (outcome === 'rate-limited') this.counts.rateLimited++
      else this.counts.failed[code] = (this.counts.failed[code] ?? 0) + 1
      setHeader(res, STATUS_HEADER, outcome)
      setHeader(res, ERROR_HEADER, code)
      return
    }
    this.counts.accepted++
    setHeader(res, STATUS_HEADER, 'accepted')
    setHeader(res, ID_HEADER, handle.id)
    onResponseFinished(res, () => {
      const request = requestOf()
      // request mode ends with the response; a window runs on, and learns which request started it
      if (trigger.mode === 'request') void handle.stop({ request })
      else handle.annotate({ request })
    })
  }
}

function requestInfo<Context>(
  req: IncomingMessage,
  routeOf: RouteOf<Context>,
  context: Context,
): CaptureRequestInfo {
  const route = routeOrUndefined(routeOf, context)
  return { method: req.method ?? 'GET', route: route ?? UNMATCHED_ROUTE }
}

/** Headers already sent (a handler that answered synchronously elsewhere) must not throw here. */
function setHeader(answer: AnswerHeaders, name: string, value: string): void {
  if (!answer.headersSent) answer.setHeader(name, value)
}
