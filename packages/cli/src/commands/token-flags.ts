import { HARD_MAX_DURATION_MS, SCOPE_FOR_ACTION, TRIGGER_HEADER, TRIGGER_SCOPE } from '@tripwire/core'
import type { Example } from '../command.js'
import { helpFlag, type FlagSection, type FlagSpec } from '../flags.js'
import { ALGORITHMS } from '../key-algorithms.js'
import { DEFAULT_SECRET_ENV } from '../read-secret.js'

/** `--scope` words and the `scope` claim each one mints. `admin` is both admin scopes. */
export const SCOPES = {
  trigger: TRIGGER_SCOPE,
  read: SCOPE_FOR_ACTION.read,
  write: SCOPE_FOR_ACTION.write,
  admin: `${SCOPE_FOR_ACTION.read} ${SCOPE_FOR_ACTION.write}`,
} as const
export type ScopeName = keyof typeof SCOPES
export const SCOPE_NAMES = Object.keys(SCOPES) as ScopeName[]

export const KINDS = ['cpu', 'heap', 'heapsnapshot'] as const
export const MODES = ['request', 'window'] as const

export const TTL_RANGE_SEC = { min: 1, max: 86_400 } as const
export const DEFAULT_TTL_SEC = { trigger: 60, admin: 900 } as const
/** What services accept unless configured otherwise (`token.maxTtlSec`, `admin.maxTokenTtlSec`). */
export const SERVICE_MAX_TTL_SEC = { trigger: 300, admin: 3600 } as const
/** What services accept unless configured otherwise (`limits.maxDurationMs`); the hard cap bounds `--dur`. */
export const SERVICE_MAX_DURATION_MS = 30_000
export const MAX_DURATION_MS = HARD_MAX_DURATION_MS

/** Where the signing key comes from; shared with the commands that mint a token in place. */
export const KEY_FLAGS: readonly FlagSpec[] = [
  {
    name: 'secret-env',
    value: 'NAME',
    default: `${DEFAULT_SECRET_ENV} when no key flag is given`,
    help: 'sign with the HMAC secret held by the environment variable NAME',
  },
  {
    name: 'secret-file',
    value: 'PATH',
    default: 'none',
    help: 'sign with the HMAC secret in a file, less one trailing newline; <(pass show …) works too',
  },
  {
    name: 'key-file',
    value: 'PATH',
    default: 'none',
    help: 'sign with a PEM private key (RSA, RSA-PSS, EC P-256/384/521, Ed25519); the service holds the public key',
  },
]

export const CLAIM_FLAGS: readonly FlagSpec[] = [
  { name: 'kid', value: 'KID', default: 'required', help: 'the id the service knows the key by' },
  { name: 'aud', value: 'SERVICE', default: 'required', help: "the service's name: the token's audience" },
  {
    name: 'scope',
    value: 'SCOPE',
    default: 'trigger',
    help: `trigger (${SCOPES.trigger}), read (${SCOPES.read}), write (${SCOPES.write}) or admin (${SCOPES.admin})`,
  },
  {
    name: 'ttl',
    value: 'SECONDS',
    default: `${DEFAULT_TTL_SEC.trigger} for trigger, ${DEFAULT_TTL_SEC.admin} for read/write/admin`,
    help: `lifetime, ${TTL_RANGE_SEC.min} to ${TTL_RANGE_SEC.max}; services refuse trigger tokens over ${SERVICE_MAX_TTL_SEC.trigger} s and admin tokens over ${SERVICE_MAX_TTL_SEC.admin} s unless configured otherwise`,
  },
  {
    name: 'iss',
    value: 'ISSUER',
    default: 'none',
    help: 'the issuer, for services with an issuer allowlist',
  },
  {
    name: 'sub',
    value: 'SUBJECT',
    default: 'user@hostname',
    help: 'who is asking; recorded in capture metadata for audit',
  },
  {
    name: 'alg',
    value: 'ALG',
    default: 'HS256 for a secret, implied by the key type for --key-file',
    help: `one of ${ALGORITHMS.join(', ')}`,
  },
]

export const TRIGGER_CLAIM_FLAGS: readonly FlagSpec[] = [
  {
    name: 'kind',
    value: 'KIND',
    default: 'cpu',
    help: 'cpu, heap (sampling heap profile) or heapsnapshot (only where the service enables it; takes no --mode or --dur)',
  },
  {
    name: 'mode',
    value: 'MODE',
    default: 'request',
    help: 'request (the capture spans the request that carries the token) or window (a capture of --dur ms starts now)',
  },
  {
    name: 'dur',
    value: 'MS',
    default: 'none; required with --mode window',
    help: `the window's length in milliseconds, 1 to ${MAX_DURATION_MS}; services refuse more than their limits.maxDurationMs, ${SERVICE_MAX_DURATION_MS} unless configured otherwise`,
  },
]

const outputFlags: FlagSpec[] = [
  {
    name: 'header',
    default: 'off: the bare token',
    help: `print "${TRIGGER_HEADER}: <token>", or "authorization: Bearer <token>" for admin scopes, for curl -H`,
  },
  { name: 'json', default: 'off', help: 'print {"token", "kid", "scope", "exp", "jti"} as JSON' },
]

export const TOKEN_SECTIONS: readonly FlagSection[] = [
  {
    title: `Key (one of these, or $${DEFAULT_SECRET_ENV})`,
    note: `Never pass the secret itself as a flag: it would show in ps and in shell history. Without a key flag the secret is read from $${DEFAULT_SECRET_ENV}.`,
    flags: KEY_FLAGS,
  },
  { title: 'Token', flags: CLAIM_FLAGS },
  { title: 'Trigger tokens only (--scope trigger)', flags: TRIGGER_CLAIM_FLAGS },
  {
    title: 'Output (default: the bare token and a newline, for TOKEN=$(tripwire token …))',
    flags: outputFlags,
  },
]

export const TOKEN_FLAGS: readonly FlagSpec[] = [
  ...TOKEN_SECTIONS.flatMap((section) => section.flags),
  helpFlag,
]

/** Flags that do not exist on purpose, and what to do instead. */
export const TOKEN_FLAG_HINTS: Readonly<Record<string, string>> = {
  '--secret': `a secret on the command line shows in ps and shell history; use --secret-env NAME, --secret-file PATH or $${DEFAULT_SECRET_ENV}`,
  '--key': 'pass a PEM private key with --key-file PATH',
}

export const TOKEN_EXAMPLES: readonly Example[] = [
  {
    comment: `profile one request (secret in $${DEFAULT_SECRET_ENV}); see x-profile-status and x-profile-id`,
    command:
      'curl -si -H "$(tripwire token --kid k1 --aud checkout --header)" https://checkout.internal/api/cart',
  },
  {
    comment: 'list the captures stored by checkout, with a read-only admin token',
    command:
      'curl -s -H "$(tripwire token --kid k1 --aud checkout --scope read --header)" https://checkout.internal/_tripwire/captures',
  },
]
