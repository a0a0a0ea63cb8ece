import { basename, dirname, join } from 'node:path'
import { cpuProfileToPprof, encodePprofGzip, heapProfileToPprof } from '@tripwire/core'
import { refuseExisting, writeFileAtomically } from '../atomic-file.js'
import { usageError } from '../cli-error.js'
import type { Command } from '../command.js'
import { choiceFlag, integerFlag, nonEmptyFlag } from '../flag-values.js'
import { parseFlags } from '../flags.js'
import { readProfile } from '../read-profile.js'
import {
  CONVERT_EXAMPLES,
  CONVERT_FLAGS,
  CONVERT_FORMATS,
  CONVERT_OPERANDS,
  CONVERT_SECTIONS,
  DEFAULT_HEAP_INTERVAL_BYTES,
} from './convert-flags.js'

/** `tripwire convert <file> --to pprof`: a native profile as gzipped pprof, with core's converters. */
export const convertCommand: Command = {
  name: 'convert',
  summary: 'convert a .cpuprofile or .heapprofile to pprof (.pb.gz)',
  usage: ['convert FILE --to pprof [-o FILE] [flags]'],
  description:
    'Converts a CPU or sampling heap profile to gzipped pprof, the format of go tool pprof, Grafana ' +
    'Pyroscope and Parca, with the same totals as the native profile. Prints the output file name. A heap ' +
    'snapshot has no pprof form.',
  operands: CONVERT_OPERANDS,
  sections: CONVERT_SECTIONS,
  examples: CONVERT_EXAMPLES,
  async run(argv, io) {
    const flags = parseFlags(argv, CONVERT_FLAGS, {}, CONVERT_OPERANDS)
    const input = flags.operands[0]!
    const to = flags.string('to')
    if (to === undefined) throw usageError('--to is required: the format to convert to (pprof)')
    choiceFlag('--to', to, CONVERT_FORMATS)
    const rawInterval = flags.string('interval')
    const interval =
      rawInterval === undefined
        ? DEFAULT_HEAP_INTERVAL_BYTES
        : integerFlag('--interval', rawInterval, 1, 1024 * 1024 * 1024, 'bytes')
    const force = flags.boolean('force')
    const output = nonEmptyFlag('--output', flags.string('output')) ?? pprofName(input)
    if (output === input)
      throw usageError('the output would replace the input; give another name with -o FILE')

    const loaded = await readProfile(input)
    if (loaded.kind === 'cpu' && rawInterval !== undefined) {
      throw usageError('--interval is for heap profiles; a CPU profile records its own sample times')
    }
    // before the conversion, which is the slow part; the final rename checks again
    await refuseExisting(output, force)
    const pprof = await encodePprofGzip(
      loaded.kind === 'cpu'
        ? cpuProfileToPprof(loaded.profile)
        : heapProfileToPprof(loaded.profile, interval),
    )
    await writeFileAtomically(output, pprof, force)
    io.out(
      flags.boolean('json')
        ? `${JSON.stringify({ input, file: output, kind: loaded.kind, bytes: pprof.length }, null, 2)}\n`
        : `${output}\n`,
    )
  },
}

/** `x.cpuprofile` → `x.pb.gz`, beside it; a name without a known extension keeps it and gains `.pb.gz`. */
function pprofName(input: string): string {
  const name = basename(input).replace(/\.(?:cpuprofile|heapprofile|json)$/, '')
  return join(dirname(input), `${name}.pb.gz`)
}
