import { integerFlag } from '../flag-values.js'
import type { FlagSpec, ParsedFlags } from '../flags.js'

const DEFAULT_TIMEOUT_SEC = 30

export const TIMEOUT_FLAG: FlagSpec = {
  name: 'timeout',
  value: 'SECONDS',
  default: String(DEFAULT_TIMEOUT_SEC),
  help: 'give up when the service sends nothing for this long, 1 to 3600: no answer, or a download that stalls',
}

export function timeoutSeconds(flags: ParsedFlags): number {
  const raw = flags.string('timeout')
  return raw === undefined ? DEFAULT_TIMEOUT_SEC : integerFlag('--timeout', raw, 1, 3600, 'seconds')
}
