import { renderTop } from '@tripwire/core'
import type { Command } from '../command.js'
import { integerFlag } from '../flag-values.js'
import { parseFlags } from '../flags.js'
import { readProfile } from '../read-profile.js'
import {
  DEFAULT_TOP_LIMIT,
  MAX_TOP_LIMIT,
  TOP_EXAMPLES,
  TOP_FLAGS,
  TOP_OPERANDS,
  TOP_SECTIONS,
} from './top-flags.js'
import { topJson } from './top-json.js'

/** `tripwire top <file>`: the hottest functions of a profile, and what the time went to. */
export const topCommand: Command = {
  name: 'top',
  summary: 'print the hottest functions of a .cpuprofile or .heapprofile, and where the time went',
  usage: ['top FILE [--limit N] [--json]'],
  description:
    'Reads a CPU or sampling heap profile and prints its hottest functions by self time (or bytes) with ' +
    'their total, and for CPU the shares of JavaScript, idle, GC and (program) time with a verdict: a mostly ' +
    'idle capture means the time went to I/O or waiting, not CPU.',
  operands: TOP_OPERANDS,
  sections: TOP_SECTIONS,
  examples: TOP_EXAMPLES,
  async run(argv, io) {
    const flags = parseFlags(argv, TOP_FLAGS, {}, TOP_OPERANDS)
    const file = flags.operands[0]!
    const rawLimit = flags.string('limit')
    const limit =
      rawLimit === undefined
        ? DEFAULT_TOP_LIMIT
        : integerFlag('--limit', rawLimit, 1, MAX_TOP_LIMIT, 'functions')
    const loaded = await readProfile(file)
    if (flags.boolean('json')) {
      io.out(`${JSON.stringify(topJson(file, loaded, limit), null, 2)}\n`)
      return
    }
    io.out(
      loaded.kind === 'cpu'
        ? renderTop(loaded.profile, 'cpu', { limit })
        : renderTop(loaded.profile, 'heap', { limit }),
    )
  },
}
