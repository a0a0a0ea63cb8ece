import type { Example } from '../command.js'
import { helpFlag, type FlagSection, type FlagSpec, type OperandSpec } from '../flags.js'
import { ADMIN_CREDENTIAL_SECTIONS } from './credential-flags.js'
import { ADMIN_URL_OPERAND } from './list-flags.js'
import { TIMEOUT_FLAG } from './network-flags.js'

export const PULL_FORMATS = ['native', 'pprof'] as const

export const PULL_OPERANDS: readonly OperandSpec[] = [
  ADMIN_URL_OPERAND,
  { name: 'ID', help: 'the capture id, as trigger and list print it: 20261121T223301Z-cpu-3f9a1c0e' },
]

const downloadFlags: FlagSpec[] = [
  {
    name: 'format',
    value: 'FORMAT',
    default: 'native',
    help: 'native (.cpuprofile, .heapprofile, .heapsnapshot: Chrome DevTools, speedscope) or pprof (.pb.gz: go tool pprof, Pyroscope)',
  },
  {
    name: 'output',
    short: 'o',
    value: 'FILE',
    default: "the server's file name, in the current directory",
    help: 'where to write the profile (mode 600), through a temporary file renamed when complete',
  },
  {
    name: 'force',
    default: 'off',
    help: 'replace FILE if it exists; without it an existing file is an error',
  },
  TIMEOUT_FLAG,
]

const outputFlags: FlagSpec[] = [
  {
    name: 'json',
    default: 'off: the file name',
    help: 'print {"id", "file", "bytes", "sha256"} instead',
  },
]

export const PULL_SECTIONS: readonly FlagSection[] = [
  {
    title: 'Download',
    note:
      'A native download is checked against the sha256 in the capture metadata; on a mismatch nothing is kept. ' +
      'A progress bar shows on stderr when it is a terminal, a final line otherwise.',
    flags: downloadFlags,
  },
  ...ADMIN_CREDENTIAL_SECTIONS,
  { title: 'Output', flags: outputFlags },
]

export const PULL_FLAGS: readonly FlagSpec[] = [
  ...PULL_SECTIONS.flatMap((section) => section.flags),
  helpFlag,
]

export const PULL_EXAMPLES: readonly Example[] = [
  {
    comment: 'download a CPU profile for Chrome DevTools, with a read token minted in place',
    command:
      'tripwire pull https://checkout.internal/_tripwire 20261121T223301Z-cpu-3f9a1c0e --kid k1 --aud checkout',
  },
  {
    comment: 'the same capture as pprof, straight into go tool pprof',
    command:
      'tripwire pull https://checkout.internal/_tripwire 20261121T223301Z-cpu-3f9a1c0e --format pprof -o cart.pb.gz && ' +
      'go tool pprof -top cart.pb.gz',
  },
]
