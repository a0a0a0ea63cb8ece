import type { Command } from '../command.js'
import { parseFlags } from '../flags.js'
import { TOKEN_EXAMPLES, TOKEN_FLAG_HINTS, TOKEN_FLAGS, TOKEN_SECTIONS } from './token-flags.js'
import { mintPlannedToken } from './token-mint.js'
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
    io.out(formatToken(mintPlannedToken(plan, io), plan))
  },
}
