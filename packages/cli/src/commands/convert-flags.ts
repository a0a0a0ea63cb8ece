import type { Example } from '../command.js'
import { helpFlag, type FlagSection, type FlagSpec, type OperandSpec } from '../flags.js'

export const CONVERT_FORMATS = ['pprof'] as const
/** V8's default mean sampling interval; a .heapprofile does not record the one it was taken with. */
export const DEFAULT_HEAP_INTERVAL_BYTES = 32_768

export const CONVERT_OPERANDS: readonly OperandSpec[] = [
  { name: 'FILE', help: 'a .cpuprofile or .heapprofile; told apart by content' },
]

const conversionFlags: FlagSpec[] = [
  {
    name: 'to',
    value: 'FORMAT',
    default: 'required',
    help: 'pprof: gzipped protobuf for go tool pprof, Pyroscope, Parca',
  },
  {
    name: 'output',
    short: 'o',
    value: 'FILE',
    default: 'FILE with .pb.gz for its extension',
    help: 'where to write (mode 600), through a temporary file renamed when complete',
  },
  {
    name: 'force',
    default: 'off',
    help: 'replace the output if it exists; without it an existing file is an error',
  },
  {
    name: 'interval',
    value: 'BYTES',
    default: String(DEFAULT_HEAP_INTERVAL_BYTES),
    help: "heap profiles only: the sampling interval the profile was taken with (the capture metadata's requested.samplingIntervalBytes); it sets pprof's period",
  },
]

const outputFlags: FlagSpec[] = [
  {
    name: 'json',
    default: 'off: the output file name',
    help: 'print {"input", "file", "kind", "bytes"} instead',
  },
]

export const CONVERT_SECTIONS: readonly FlagSection[] = [
  { title: 'Conversion', flags: conversionFlags },
  { title: 'Output', flags: outputFlags },
]

export const CONVERT_FLAGS: readonly FlagSpec[] = [
  ...CONVERT_SECTIONS.flatMap((section) => section.flags),
  helpFlag,
]

export const CONVERT_EXAMPLES: readonly Example[] = [
  {
    comment: 'a CPU profile for go tool pprof (writes 20261121T223301Z-cpu-3f9a1c0e.pb.gz)',
    command:
      'tripwire convert 20261121T223301Z-cpu-3f9a1c0e.cpuprofile --to pprof && go tool pprof -http=: 20261121T223301Z-cpu-3f9a1c0e.pb.gz',
  },
]
