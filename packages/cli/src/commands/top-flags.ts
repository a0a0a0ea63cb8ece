import type { Example } from '../command.js'
import { helpFlag, type FlagSection, type FlagSpec, type OperandSpec } from '../flags.js'

export const DEFAULT_TOP_LIMIT = 10
export const MAX_TOP_LIMIT = 1000

export const TOP_OPERANDS: readonly OperandSpec[] = [
  { name: 'FILE', help: 'a .cpuprofile or .heapprofile, as tripwire pull saves it; told apart by content' },
]

const outputFlags: FlagSpec[] = [
  {
    name: 'limit',
    value: 'N',
    default: String(DEFAULT_TOP_LIMIT),
    help: `how many functions, 1 to ${MAX_TOP_LIMIT}`,
  },
  {
    name: 'json',
    default: 'off: a table and a verdict',
    help: 'print the shares, the verdicts and the functions by self and by total as JSON',
  },
]

export const TOP_SECTIONS: readonly FlagSection[] = [{ title: 'Output', flags: outputFlags }]

export const TOP_FLAGS: readonly FlagSpec[] = [...outputFlags, helpFlag]

export const TOP_EXAMPLES: readonly Example[] = [
  {
    comment: 'where did the CPU time of a captured request go?',
    command: 'tripwire top 20261121T223301Z-cpu-3f9a1c0e.cpuprofile',
  },
  {
    comment: 'the 3 functions that allocated the most, as JSON',
    command:
      "tripwire top 20261121T223301Z-heap-9b0c1d2e.heapprofile --limit 3 --json | jq '.bySelf[].functionName'",
  },
]
