import type { JwtAlgorithm } from '@tripwire/core'
import { usageError } from '../cli-error.js'
import { choiceFlag, integerFlag, nonEmptyFlag } from '../flag-values.js'
import type { ParsedFlags } from '../flags.js'
import { ALGORITHMS, isHmacAlgorithm } from '../key-algorithms.js'
import { DEFAULT_SECRET_ENV } from '../read-secret.js'
import { defaultSubject } from '../whoami.js'
import {
  DEFAULT_TTL_SEC,
  KINDS,
  MAX_DURATION_MS,
  MODES,
  SCOPE_NAMES,
  SCOPES,
  SERVICE_MAX_DURATION_MS,
  SERVICE_MAX_TTL_SEC,
  TTL_RANGE_SEC,
  type ScopeName,
} from './token-flags.js'

export type KeySource =
  { type: 'env'; name: string } | { type: 'secret-file'; path: string } | { type: 'key-file'; path: string }

/** What to mint, checked against everything a service would refuse, before any file is read. */
export interface TokenPlan {
  key: KeySource
  /** `undefined`: HS256 for a secret, the key type's own for a private key. */
  algorithm: JwtAlgorithm | undefined
  kid: string
  audience: string
  issuer: string | undefined
  subject: string
  scopeName: ScopeName
  scope: string
  ttlSec: number
  /** `kind`, `mode`, `dur`: only those given, so a token says no more than was asked. */
  claims: Record<string, string | number>
  output: 'token' | 'header' | 'json'
  /** Valid but probably not what was meant; printed on stderr. */
  warnings: string[]
}

export function planToken(flags: ParsedFlags, env: NodeJS.ProcessEnv): TokenPlan {
  const warnings: string[] = []
  // the flags every token needs first: their absence is the likeliest mistake
  const kid = required(flags, 'kid', 'the id the service knows the key by')
  const audience = required(flags, 'aud', "the service's name, which the token is for")
  const key = keySource(flags, env)
  const scopeName = choiceFlag('--scope', flags.string('scope') ?? 'trigger', SCOPE_NAMES)
  const isTrigger = scopeName === 'trigger'
  const ttlSec =
    flags.string('ttl') === undefined
      ? DEFAULT_TTL_SEC[isTrigger ? 'trigger' : 'admin']
      : integerFlag('--ttl', flags.string('ttl')!, TTL_RANGE_SEC.min, TTL_RANGE_SEC.max, 'seconds')
  const serviceMax = SERVICE_MAX_TTL_SEC[isTrigger ? 'trigger' : 'admin']
  if (ttlSec > serviceMax) {
    const option = isTrigger ? 'token.maxTtlSec' : 'admin.maxTokenTtlSec'
    warnings.push(`--ttl ${ttlSec}: services refuse this token unless their ${option} is at least ${ttlSec}`)
  }
  if (flags.boolean('header') && flags.boolean('json')) throw usageError('give --header or --json, not both')
  return {
    key,
    algorithm: algorithm(flags.string('alg'), key),
    kid,
    audience,
    issuer: nonEmptyFlag('--iss', flags.string('iss')),
    subject: nonEmptyFlag('--sub', flags.string('sub')) ?? defaultSubject(env),
    scopeName,
    scope: SCOPES[scopeName],
    ttlSec,
    claims: isTrigger ? triggerClaims(flags, warnings) : refuseTriggerFlags(flags, scopeName),
    output: flags.boolean('json') ? 'json' : flags.boolean('header') ? 'header' : 'token',
    warnings,
  }
}

function keySource(flags: ParsedFlags, env: NodeJS.ProcessEnv): KeySource {
  const given = (['secret-env', 'secret-file', 'key-file'] as const).filter((name) => flags.has(name))
  if (given.length > 1) {
    throw usageError(`give one key, not ${given.map((name) => `--${name}`).join(' and ')}`)
  }
  const envName = flags.string('secret-env')
  if (envName !== undefined) return { type: 'env', name: envName }
  const secretFile = flags.string('secret-file')
  if (secretFile !== undefined) return { type: 'secret-file', path: secretFile }
  const keyFile = flags.string('key-file')
  if (keyFile !== undefined) return { type: 'key-file', path: keyFile }
  if (!env[DEFAULT_SECRET_ENV]) {
    throw usageError(
      `no key: set ${DEFAULT_SECRET_ENV}, or pass --secret-env NAME, --secret-file PATH or --key-file PATH ` +
        '(never the secret itself)',
    )
  }
  return { type: 'env', name: DEFAULT_SECRET_ENV }
}

function algorithm(raw: string | undefined, key: KeySource): JwtAlgorithm | undefined {
  if (raw === undefined) return undefined
  // JWT names are case-sensitive, but `es256` can only mean one thing
  const chosen = choiceFlag(
    '--alg',
    ALGORITHMS.find((name) => name.toLowerCase() === raw.toLowerCase()) ?? raw,
    ALGORITHMS,
  )
  const hmac = isHmacAlgorithm(chosen)
  if (hmac && key.type === 'key-file') {
    throw usageError(
      `--alg ${chosen} signs with an HMAC secret: pass --secret-env or --secret-file, not --key-file`,
    )
  }
  if (!hmac && key.type !== 'key-file') {
    throw usageError(`--alg ${chosen} signs with a private key: pass --key-file PATH`)
  }
  return chosen
}

function required(flags: ParsedFlags, name: string, what: string): string {
  const value = nonEmptyFlag(`--${name}`, flags.string(name))
  if (value === undefined) throw usageError(`--${name} is required: ${what}`)
  return value
}

/** The claims a service reads from a trigger token, refused here when the service would refuse them. */
function triggerClaims(flags: ParsedFlags, warnings: string[]): Record<string, string | number> {
  const kindRaw = flags.string('kind')
  const modeRaw = flags.string('mode')
  const durRaw = flags.string('dur')
  const kind = kindRaw === undefined ? undefined : choiceFlag('--kind', kindRaw, KINDS)
  const mode = modeRaw === undefined ? undefined : choiceFlag('--mode', modeRaw, MODES)
  if (kind === 'heapsnapshot' && (mode !== undefined || durRaw !== undefined)) {
    throw usageError('--kind heapsnapshot takes no --mode or --dur: a snapshot is one instant')
  }
  if (mode === 'window' && durRaw === undefined) {
    throw usageError('--mode window needs --dur MS: how long the capture runs')
  }
  if (mode !== 'window' && durRaw !== undefined) {
    throw usageError('--dur needs --mode window (a request-mode capture lasts as long as its request)')
  }
  const dur =
    durRaw === undefined ? undefined : integerFlag('--dur', durRaw, 1, MAX_DURATION_MS, 'milliseconds')
  if (dur !== undefined && dur > SERVICE_MAX_DURATION_MS) {
    warnings.push(
      `--dur ${dur}: services refuse this token unless their limits.maxDurationMs is at least ${dur}`,
    )
  }
  return {
    ...(kind !== undefined && { kind }),
    ...(mode !== undefined && { mode }),
    ...(dur !== undefined && { dur }),
  }
}

function refuseTriggerFlags(flags: ParsedFlags, scopeName: ScopeName): Record<string, never> {
  const given = (['kind', 'mode', 'dur'] as const).filter((name) => flags.has(name))
  if (given.length > 0) {
    throw usageError(
      `--${given[0]} is for trigger tokens only; a --scope ${scopeName} token cannot start a capture through the header`,
    )
  }
  return {}
}
