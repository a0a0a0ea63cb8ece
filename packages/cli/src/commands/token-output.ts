import { TRIGGER_HEADER } from '@tripwire/core'
import type { TokenPlan } from './token-plan.js'

/** The token as the user asked for it: bare, as a header line for `curl -H`, or as JSON. Ends in a newline. */
export function formatToken(token: string, plan: TokenPlan): string {
  if (plan.output === 'header') {
    return plan.scopeName === 'trigger' ? `${TRIGGER_HEADER}: ${token}\n` : `authorization: Bearer ${token}\n`
  }
  if (plan.output === 'json') {
    const { exp, jti } = payloadOf(token)
    return `${JSON.stringify({ token, kid: plan.kid, scope: plan.scope, exp, jti }, null, 2)}\n`
  }
  return `${token}\n`
}

/** Reads back what the minter put in, rather than predicting `exp` and `jti`. */
function payloadOf(token: string): { exp: unknown; jti: unknown } {
  const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >
  return { exp: payload.exp, jti: payload.jti }
}
