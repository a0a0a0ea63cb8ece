import { mintToken } from '@tripwire/core'
import { oneLine, runtimeError } from '../cli-error.js'
import type { CommandIo } from '../command.js'
import { loadSigningKey } from './token-key.js'
import type { TokenPlan } from './token-plan.js'

/** Signs what the plan says: its warnings on stderr first, then the key read and the token minted. */
export function mintPlannedToken(plan: TokenPlan, io: CommandIo): string {
  for (const warning of plan.warnings) io.warn(warning)
  const { key, algorithm } = loadSigningKey(plan.key, plan.algorithm, io.env, (message) => io.warn(message))
  try {
    return mintToken({
      key,
      algorithm,
      kid: plan.kid,
      audience: plan.audience,
      ...(plan.issuer !== undefined && { issuer: plan.issuer }),
      subject: plan.subject,
      scope: plan.scope,
      ttlSec: plan.ttlSec,
      claims: plan.claims,
    })
  } catch (error) {
    // e.g. an RSA key shorter than 2048 bits, or a key that cannot make the algorithm asked for
    throw runtimeError(
      `cannot sign the token: ${oneLine(error instanceof Error ? error.message : String(error))}`,
    )
  }
}
