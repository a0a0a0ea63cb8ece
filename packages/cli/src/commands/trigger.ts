import { TRIGGER_HEADER } from '@tripwire/core'
import { usageError, type CliError } from '../cli-error.js'
import type { Command } from '../command.js'
import { parseFlags } from '../flags.js'
import { bodyChunks } from '../http/body-chunks.js'
import { IdleDeadline } from '../http/idle-deadline.js'
import { networkError } from '../http/network-error.js'
import { parseHttpUrl } from '../http/target-url.js'
import { CREDENTIAL_FLAG_HINTS } from './credential-flags.js'
import { triggerToken } from './credentials.js'
import { timeoutSeconds } from './network-flags.js'
import { TRIGGER_EXAMPLES, TRIGGER_FLAGS, TRIGGER_OPERANDS, TRIGGER_SECTIONS } from './trigger-flags.js'
import { outcomeError, readOutcome } from './trigger-outcome.js'

/** An HTTP method token (RFC 9110); anything else would be refused by fetch with a less clear message. */
const METHOD = /^[A-Za-z]{1,20}$/

/** `tripwire trigger <url>`: one request with a trigger token; prints the capture id it started. */
export const triggerCommand: Command = {
  name: 'trigger',
  summary: `send one request with a signed ${TRIGGER_HEADER} header and print the capture id`,
  usage: ['trigger URL --kid KID --aud SERVICE [key] [flags]', 'trigger URL --token-env NAME [flags]'],
  description:
    `Sends one request to URL with a trigger token in the ${TRIGGER_HEADER} header, reads the service's ` +
    'answer (x-profile-status, x-profile-id) and prints the id of the capture it started. The response body ' +
    'is read to its end, which ends a request-mode capture, and dropped. Exits 1 with one line when the ' +
    'service is busy, rate limited or rejects the token.',
  operands: TRIGGER_OPERANDS,
  sections: TRIGGER_SECTIONS,
  examples: TRIGGER_EXAMPLES,
  async run(argv, io) {
    const flags = parseFlags(argv, TRIGGER_FLAGS, CREDENTIAL_FLAG_HINTS, TRIGGER_OPERANDS)
    const url = parseHttpUrl(flags.operands[0]!, 'URL')
    const method = (flags.string('method') ?? 'GET').toUpperCase()
    if (!METHOD.test(method)) throw usageError('--method must be an HTTP method such as GET or POST')
    if (flags.boolean('json') && flags.boolean('show-body')) {
      throw usageError('give --json or --show-body, not both: each takes stdout')
    }
    const timeoutSec = timeoutSeconds(flags)
    const token = triggerToken(flags, io)

    const deadline = new IdleDeadline(timeoutSec)
    let response: Response
    let body: { text: string; cut?: CliError }
    try {
      try {
        response = await fetch(url, {
          method,
          headers: { [TRIGGER_HEADER]: token },
          // the outcome is on this response; following a redirect would hand the token to another server
          redirect: 'manual',
          signal: deadline.signal,
        })
      } catch (error) {
        throw networkError(error, url)
      }
      body = await drain(response, deadline, url, flags.boolean('show-body'))
    } finally {
      deadline.clear()
    }

    const result = readOutcome(response)
    if (flags.boolean('json')) io.out(`${JSON.stringify(result, null, 2)}\n`)
    const failure = outcomeError(result, url)
    if (failure !== undefined) throw failure
    // the capture started all the same, and its id is what the caller came for
    if (body.cut !== undefined) io.warn(body.cut.message)
    if (response.status >= 400) io.warn(`the request itself answered HTTP ${response.status}`)
    if (flags.boolean('show-body')) {
      io.note(`capture ${result.id!} started\n`)
      io.out(body.text)
    } else if (!flags.boolean('json')) {
      io.out(`${result.id!}\n`)
    }
  },
}

/**
 * Reads the body to its end: a request-mode capture ends when the response does, and a server may hold a
 * response that nobody reads. Kept only for `--show-body`.
 */
async function drain(
  response: Response,
  deadline: IdleDeadline,
  url: URL,
  keep: boolean,
): Promise<{ text: string; cut?: CliError }> {
  const chunks: Uint8Array[] = []
  let cut: CliError | undefined
  try {
    for await (const chunk of bodyChunks(response)) {
      deadline.touch()
      if (keep) chunks.push(chunk)
    }
  } catch (error) {
    cut = networkError(error, url, true)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  return cut === undefined ? { text } : { text, cut }
}
