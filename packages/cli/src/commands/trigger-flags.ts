import { ERROR_HEADER, ID_HEADER, STATUS_HEADER, TRIGGER_HEADER } from '@tripwire/core'
import type { Example } from '../command.js'
import { helpFlag, type FlagSection, type FlagSpec, type OperandSpec } from '../flags.js'
import { TRIGGER_CREDENTIAL_SECTIONS } from './credential-flags.js'
import { TIMEOUT_FLAG } from './network-flags.js'

export const TRIGGER_OPERANDS: readonly OperandSpec[] = [
  {
    name: 'URL',
    help: 'a URL of the service, as in http://127.0.0.1:3000/api/cart; a request-mode capture spans this request',
  },
]

const requestFlags: FlagSpec[] = [
  { name: 'method', value: 'METHOD', default: 'GET', help: 'the request method; the request has no body' },
  TIMEOUT_FLAG,
]

const outputFlags: FlagSpec[] = [
  {
    name: 'json',
    default: 'off: the capture id and a newline',
    help: `print {"status", "id", "httpStatus", "error"?} from ${STATUS_HEADER}, ${ID_HEADER}, ${ERROR_HEADER}`,
  },
  {
    name: 'show-body',
    default: 'off: the body is read and dropped',
    help: 'print the response body on stdout; the capture id then goes to stderr',
  },
]

export const TRIGGER_SECTIONS: readonly FlagSection[] = [
  { title: 'Request', flags: requestFlags },
  ...TRIGGER_CREDENTIAL_SECTIONS,
  { title: 'Output', flags: outputFlags },
]

export const TRIGGER_FLAGS: readonly FlagSpec[] = [
  ...TRIGGER_SECTIONS.flatMap((section) => section.flags),
  helpFlag,
]

export const TRIGGER_EXAMPLES: readonly Example[] = [
  {
    comment: `profile one request (secret in $TRIPWIRE_SECRET), then download its CPU profile`,
    command:
      'ID=$(tripwire trigger https://checkout.internal/api/cart --kid k1 --aud checkout) && ' +
      'tripwire pull https://checkout.internal/_tripwire "$ID" --kid k1 --aud checkout',
  },
  {
    comment: `a 5-second heap profile that starts now, with a token minted elsewhere (sent as ${TRIGGER_HEADER})`,
    command:
      'TOKEN=$(tripwire token --kid k1 --aud checkout --kind heap --mode window --dur 5000) ' +
      'tripwire trigger https://checkout.internal/health --token-env TOKEN',
  },
]
