import { runtimeError, usageError, type CliError } from '../cli-error.js'
import type { CommandIo } from '../command.js'
import type { ParsedFlags } from '../flags.js'
import { DEFAULT_TOKEN_ENV } from './credential-flags.js'
import type { ScopeName } from './token-flags.js'
import { mintPlannedToken } from './token-mint.js'
import { planToken } from './token-plan.js'

/** Flags that only mean something when a token is minted here. */
const MINT_FLAGS = ['kid', 'aud', 'ttl', 'iss', 'sub', 'alg', 'secret-env', 'secret-file', 'key-file']
/** The trigger token's claims; `list` has a `--kind` of its own, a filter that must not reach the minter. */
const TRIGGER_CLAIMS = ['kind', 'mode', 'dur']

/** Three base64url parts: enough to catch a pasted header line or a file name, without judging the token. */
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]*$/
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/** The `x-trigger-profile` value: `--token`, `--token-env`, or a fresh single-use token minted here. */
export function triggerToken(flags: ParsedFlags, io: CommandIo): string {
  const ready = readyToken(flags, io.env, [...MINT_FLAGS, ...TRIGGER_CLAIMS])
  if (ready !== undefined) return ready
  if (!flags.has('kid') && !flags.has('aud')) {
    throw usageError(
      'no token: mint one here with --kid KID --aud SERVICE (the secret from $TRIPWIRE_SECRET or a key ' +
        'flag), or pass a ready one with --token-env NAME',
    )
  }
  return mintPlannedToken(planToken(mintingView(flags, 'trigger', []), io.env), io)
}

/** The admin API's Bearer token: `--token`, `--token-env`, a read token minted here, or `$TRIPWIRE_TOKEN`. */
export function adminBearer(flags: ParsedFlags, io: CommandIo): string {
  const ready = readyToken(flags, io.env, MINT_FLAGS)
  if (ready !== undefined) return ready
  if (flags.has('kid') || flags.has('aud')) {
    return mintPlannedToken(planToken(mintingView(flags, 'read', TRIGGER_CLAIMS), io.env), io)
  }
  const fromEnv = io.env[DEFAULT_TOKEN_ENV]
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    return checkShape(fromEnv.trim(), `$${DEFAULT_TOKEN_ENV}`, runtimeError)
  }
  throw usageError(
    `no admin token: set ${DEFAULT_TOKEN_ENV}, pass --token-env NAME, or mint one here with --kid KID ` +
      '--aud SERVICE (the secret from $TRIPWIRE_SECRET or a key flag)',
  )
}

function readyToken(
  flags: ParsedFlags,
  env: NodeJS.ProcessEnv,
  mintFlags: readonly string[],
): string | undefined {
  const given = (['token', 'token-env'] as const).filter((name) => flags.has(name))
  if (given.length === 0) return undefined
  if (given.length > 1) throw usageError('give --token or --token-env, not both')
  const minting = mintFlags.find((name) => flags.has(name))
  if (minting !== undefined) {
    throw usageError(
      `--${given[0]} gives a ready token; --${minting} is for minting one here: give one or the other`,
    )
  }
  const literal = flags.string('token')
  if (literal !== undefined) return checkShape(literal.trim(), '--token', usageError)
  const name = flags.string('token-env') ?? ''
  if (!ENV_NAME.test(name)) {
    throw usageError(
      '--token-env takes the NAME of an environment variable (such as TRIPWIRE_TOKEN), not the token',
    )
  }
  const value = env[name]
  if (value === undefined || value.trim() === '')
    throw runtimeError(`--token-env: ${name} is not set in the environment`)
  return checkShape(value.trim(), name, runtimeError)
}

/**
 * Never echoes the value: it may be a secret pasted into the wrong place. A flag's value is a usage error, an
 * environment variable's a runtime one, as for secrets.
 */
function checkShape(token: string, where: string, fail: (message: string) => CliError): string {
  if (!JWT_SHAPE.test(token))
    throw fail(`${where} does not hold a token (a JWT such as tripwire token prints)`)
  return token
}

/**
 * `planToken` reads the whole `tripwire token` command line; this shows it one with the scope fixed, no output
 * flags and none of `also` (this command's own flags that share a name), so the same checks and the same
 * errors apply to a token minted here.
 */
function mintingView(flags: ParsedFlags, scope: ScopeName, also: readonly string[]): ParsedFlags {
  const hidden = new Set(['scope', 'header', 'json', ...also])
  return {
    operands: flags.operands,
    string: (name) => (name === 'scope' ? scope : hidden.has(name) ? undefined : flags.string(name)),
    boolean: (name) => !hidden.has(name) && flags.boolean(name),
    has: (name) => (name === 'scope' ? true : !hidden.has(name) && flags.has(name)),
  }
}
