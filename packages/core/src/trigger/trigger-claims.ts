import { isCaptureKind } from '../capture-kinds.js'
import type { ResolvedConfig } from '../config.js'
import type { TokenClaims } from '../auth/token-verifier.js'
import type { CaptureKind } from '../types.js'

/** What a verified trigger token asks for. */
export interface TriggerRequest {
  kind: CaptureKind
  /** `request`: the capture spans the request; `window`: `durationMs` from now; `instant`: a heap snapshot. */
  mode: 'request' | 'window' | 'instant'
  durationMs?: number
  jti: string
  exp: number
  subject?: string
}

export type ClaimRejection = 'missing-jti' | 'invalid-claims' | 'kind-disabled'

const MAX_JTI_LENGTH = 256

/**
 * Reads `kind`, `mode` and `dur` from a verified trigger token. Values out of range are refused, never
 * clamped: a token that asks for more than the service allows gets nothing rather than something else.
 */
export function readTriggerClaims(
  claims: TokenClaims,
  config: ResolvedConfig,
): { ok: true; request: TriggerRequest } | { ok: false; reason: ClaimRejection } {
  const { jti } = claims
  if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH)
    return { ok: false, reason: 'missing-jti' }
  const kind = claims.kind ?? 'cpu'
  if (!isCaptureKind(kind)) return { ok: false, reason: 'invalid-claims' }
  if (kind === 'heapsnapshot' && !config.heapSnapshot.enabled) return { ok: false, reason: 'kind-disabled' }
  const base = { kind, jti, exp: claims.exp, ...(claims.sub !== undefined && { subject: claims.sub }) }

  if (kind === 'heapsnapshot') {
    if (claims.mode !== undefined || claims.dur !== undefined) return { ok: false, reason: 'invalid-claims' }
    return { ok: true, request: { ...base, mode: 'instant' } }
  }
  const mode = claims.mode ?? 'request'
  if (mode === 'request') {
    if (claims.dur !== undefined) return { ok: false, reason: 'invalid-claims' }
    return { ok: true, request: { ...base, mode } }
  }
  const { dur } = claims
  if (mode !== 'window' || typeof dur !== 'number' || !Number.isInteger(dur))
    return { ok: false, reason: 'invalid-claims' }
  if (dur < 1 || dur > config.limits.maxDurationMs) return { ok: false, reason: 'invalid-claims' }
  return { ok: true, request: { ...base, mode, durationMs: dur } }
}
