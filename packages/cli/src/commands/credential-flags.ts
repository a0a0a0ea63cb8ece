import type { FlagSection, FlagSpec } from '../flags.js'
import { DEFAULT_SECRET_ENV } from '../read-secret.js'
import { CLAIM_FLAGS, KEY_FLAGS, TOKEN_FLAG_HINTS, TRIGGER_CLAIM_FLAGS } from './token-flags.js'

/** Where `list` and `pull` find an admin token when no flag names one. */
export const DEFAULT_TOKEN_ENV = 'TRIPWIRE_TOKEN'

/**
 * `tripwire token`'s claim flags but `--scope`: each command mints the one scope it needs. `--kid` and `--aud`
 * are required only to mint, so their help must not say required outright.
 */
const MINT_CLAIM_FLAGS = CLAIM_FLAGS.filter((flag) => flag.name !== 'scope').map((flag) =>
  flag.default === 'required' ? { ...flag, default: 'none; needed to mint' } : flag,
)

function readyTokenFlags(what: string, defaultEnv: string | undefined): FlagSpec[] {
  return [
    {
      name: 'token',
      value: 'TOKEN',
      default: 'none',
      help: `send this ${what} as it is; it shows in ps and shell history, so prefer --token-env`,
    },
    {
      name: 'token-env',
      value: 'NAME',
      default: defaultEnv === undefined ? 'none' : `${defaultEnv}, when no other credential flag is given`,
      help: `send the ${what} held by the environment variable NAME`,
    },
  ]
}

export const TRIGGER_CREDENTIAL_SECTIONS: readonly FlagSection[] = [
  {
    title: 'Token: a ready one, or minted in place from the flags below',
    note: 'A trigger token is single use: without --token or --token-env a fresh one is minted for every run.',
    flags: readyTokenFlags('trigger token', undefined),
  },
  {
    title: 'Minting in place (as tripwire token does; --kid and --aud required then)',
    note: `The key: $${DEFAULT_SECRET_ENV} unless a key flag names another. Never pass the secret itself as a flag.`,
    flags: [...MINT_CLAIM_FLAGS, ...KEY_FLAGS, ...TRIGGER_CLAIM_FLAGS],
  },
]

export const ADMIN_CREDENTIAL_SECTIONS: readonly FlagSection[] = [
  {
    title: `Admin token: a ready one, $${DEFAULT_TOKEN_ENV}, or minted in place from the flags below`,
    note: `Make one to reuse with: export ${DEFAULT_TOKEN_ENV}=$(tripwire token --kid KID --aud SERVICE --scope read)`,
    flags: readyTokenFlags('admin token (scope profiles:read)', DEFAULT_TOKEN_ENV),
  },
  {
    title:
      'Minting a read token in place (as tripwire token --scope read does; --kid and --aud required then)',
    note: `The key: $${DEFAULT_SECRET_ENV} unless a key flag names another. Never pass the secret itself as a flag.`,
    flags: [...MINT_CLAIM_FLAGS, ...KEY_FLAGS],
  },
]

/** Flags that do not exist here on purpose, and what to do instead. */
export const CREDENTIAL_FLAG_HINTS: Readonly<Record<string, string>> = {
  ...TOKEN_FLAG_HINTS,
  '--scope':
    'this command mints the scope it needs itself (trigger for trigger, read for list and pull); for another, use tripwire token',
}
