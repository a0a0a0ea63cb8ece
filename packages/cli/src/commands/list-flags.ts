import { CAPTURE_KINDS, type TriggerType } from '@tripwire/core'
import type { Example } from '../command.js'
import { helpFlag, type FlagSection, type FlagSpec, type OperandSpec } from '../flags.js'
import { ADMIN_CREDENTIAL_SECTIONS } from './credential-flags.js'
import { TIMEOUT_FLAG } from './network-flags.js'

/** Typed against core's `TriggerType`, so a trigger added there fails to compile here until it is listed. */
const TRIGGER_TYPE_SET = {
  header: true,
  admin: true,
  slo: true,
  eventloop: true,
  heap: true,
  api: true,
} satisfies Record<TriggerType, true>
export const TRIGGER_TYPES = Object.keys(TRIGGER_TYPE_SET) as TriggerType[]
export const LIST_KINDS = Object.keys(CAPTURE_KINDS) as (keyof typeof CAPTURE_KINDS)[]
/** The admin API's own bounds on `limit`. */
export const LIST_LIMIT_MAX = 100
/** `--all` stops here, so a huge store or a server that never ends its cursor cannot keep the CLI busy. */
export const MAX_PAGES = 50

export const ADMIN_URL_OPERAND: OperandSpec = {
  name: 'ADMIN_URL',
  help: "the service's admin API: its base URL and prefix, as in http://127.0.0.1:3000/_tripwire",
}

export const LIST_OPERANDS: readonly OperandSpec[] = [ADMIN_URL_OPERAND]

const filterFlags: FlagSpec[] = [
  {
    name: 'limit',
    value: 'N',
    default: "the service's, 20",
    help: `captures per page, 1 to ${LIST_LIMIT_MAX}`,
  },
  {
    name: 'kind',
    value: 'KIND',
    default: 'all kinds',
    help: `only captures of this kind: ${LIST_KINDS.join(', ')}`,
  },
  {
    name: 'trigger',
    value: 'TRIGGER',
    default: 'all triggers',
    help: `only captures started this way: ${TRIGGER_TYPES.join(', ')}`,
  },
  {
    name: 'cursor',
    value: 'ID',
    default: 'the newest',
    help: 'start after this capture: the nextCursor of a previous page',
  },
  {
    name: 'all',
    default: 'off: one page',
    help: `follow nextCursor to the end, up to ${MAX_PAGES} pages`,
  },
  TIMEOUT_FLAG,
]

const outputFlags: FlagSpec[] = [
  {
    name: 'json',
    default: 'off: a table',
    help: 'print {"items": [metadata…], "nextCursor"?}, the admin API\'s page (all pages joined with --all)',
  },
]

export const LIST_SECTIONS: readonly FlagSection[] = [
  { title: 'Filters and pages', flags: filterFlags },
  ...ADMIN_CREDENTIAL_SECTIONS,
  {
    title: 'Output (default: id, status, kind, trigger, route, bytes, duration; newest first)',
    flags: outputFlags,
  },
]

export const LIST_FLAGS: readonly FlagSpec[] = [
  ...LIST_SECTIONS.flatMap((section) => section.flags),
  helpFlag,
]

export const LIST_EXAMPLES: readonly Example[] = [
  {
    comment: 'the newest captures, with a read token minted in place (secret in $TRIPWIRE_SECRET)',
    command: 'tripwire list https://checkout.internal/_tripwire --kid k1 --aud checkout',
  },
  {
    comment: 'every CPU capture an SLO started, as JSON, with a token kept in $TRIPWIRE_TOKEN',
    command:
      'export TRIPWIRE_TOKEN=$(tripwire token --kid k1 --aud checkout --scope read)\n  ' +
      "tripwire list https://checkout.internal/_tripwire --kind cpu --trigger slo --all --json | jq -r '.items[].id'",
  },
]
