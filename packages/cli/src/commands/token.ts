import { mintToken } from '@tripwire/core'
import { oneLine, runtimeError } from '../cli-error.js'
import type { Command } from '../command.js'
import { parseFlags } from '../flags.js'
import { loadSigningKey } from './token-key.js'
import { TOKEN_EXAMPLES, TOKEN_FLAG_HINTS, TOKEN_FLAGS, TOKEN_SECTIONS } from './token-flags.js'
import { formatToken } from './token-output.js'
import { planToken } from './token-plan.js'

/** `tripwire token`: mints a trigger or admin token for one service. */
export const tokenCommand: Command = {
  name: 'token',
  summary: "mint a signed token for a service's x-trigger-profile header or its admin API",
  usage: ['token --kid KID --aud SERVICE [key] [flags]'],
  description:
    'Mints a short-lived JWT that a service running Tripwire accepts: a trigger token (single use: each one ' +
    'has a fresh jti) starts one capture when sent in the x-trigger-profile header; a read, write or admin ' +
    'token authorizes the admin API as "authorization: Bearer <token>" and may be reused until it expires.',
  sections: TOKEN_SECTIONS,
  examples: TOKEN_EXAMPLES,
  run(argv, io) {
    const plan = planToken(parseFlags(argv, TOKEN_FLAGS, TOKEN_FLAG_HINTS), io.env)
    for (const warning of plan.warnings) io.warn(warning)
    const { key, algorithm } = loadSigningKey(plan.key, plan.algorithm, io.env, (message) => io.warn(message))
    let token: string
    try {
      token = mintToken({
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
      // e.g. an RSA key shorter than 2048 bits, which jsonwebtoken refuses to sign with
      throw runtimeError(
        `cannot sign the token: ${oneLine(error instanceof Error ? error.message : String(error))}`,
      )
    }
    io.out(formatToken(token, plan))
  },
}
