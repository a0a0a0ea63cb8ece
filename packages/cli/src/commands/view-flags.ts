import type { Example } from '../command.js'
import { helpFlag, type FlagSection, type FlagSpec, type OperandSpec } from '../flags.js'

export const VIEW_OPERANDS: readonly OperandSpec[] = [
  { name: 'FILE', help: 'a .cpuprofile or .heapprofile, as tripwire pull saves it' },
]

const serverFlags: FlagSpec[] = [
  {
    name: 'port',
    value: 'PORT',
    default: '0: any free port',
    help: 'the local port to serve on (127.0.0.1 only)',
  },
]

export const VIEW_SECTIONS: readonly FlagSection[] = [{ title: 'Server', flags: serverFlags }]

export const VIEW_FLAGS: readonly FlagSpec[] = [...serverFlags, helpFlag]

export const VIEW_EXAMPLES: readonly Example[] = [
  {
    comment: 'open a pulled capture as a flame graph in the browser (Ctrl-C to stop)',
    command: 'tripwire view 20261121T223301Z-cpu-3f9a1c0e.cpuprofile',
  },
]
