import { parseArgs, type ParseArgsConfig } from 'node:util'
import { usageError } from './cli-error.js'
import { closest } from './suggest.js'

/** One flag: drives the parser, `--help` and the did-you-mean suggestion from the same place. */
export interface FlagSpec {
  /** Without the leading dashes. */
  name: string
  /** The value's placeholder in help (`PATH`); absent for a switch. */
  value?: string
  short?: string
  /** What applies when the flag is absent, as help shows it: `required`, `60`, `off`. */
  default: string
  help: string
}

export interface FlagSection {
  title: string
  /** A sentence printed under the title. */
  note?: string
  flags: readonly FlagSpec[]
}

/** The parsed command line, read by flag name; a flag that was not given is `undefined` or `false`. */
export interface ParsedFlags {
  string(name: string): string | undefined
  boolean(name: string): boolean
  /** Whether the flag appeared at all. */
  has(name: string): boolean
}

type FlagOptions = NonNullable<ParseArgsConfig['options']>

/** The help switch every command accepts; `--help` wins over every other flag, even a wrong one. */
export const helpFlag: FlagSpec = { name: 'help', short: 'h', default: 'off', help: 'show this help' }

export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--')
  return (end === -1 ? argv : argv.slice(0, end)).some((arg) => arg === '--help' || arg === '-h')
}

/**
 * Parses strictly: an unknown flag, a missing value, a value given to a switch, a positional argument or a
 * repeated flag is a usage error naming the flag. `hints` adds a reason for flags that are absent on purpose.
 */
export function parseFlags(
  argv: readonly string[],
  specs: readonly FlagSpec[],
  hints: Readonly<Record<string, string>> = {},
): ParsedFlags {
  const options: FlagOptions = Object.fromEntries(
    specs.map((spec) => [
      spec.name,
      {
        type: spec.value === undefined ? ('boolean' as const) : ('string' as const),
        ...(spec.short !== undefined && { short: spec.short }),
      },
    ]),
  )
  const parsed = parseStrictly(argv, options, specs, hints)
  const seen = new Set<string>()
  for (const token of parsed.tokens) {
    if (token.kind !== 'option') continue
    // the last of two values would win silently, which hides a mistake such as two --kid in a script
    if (seen.has(token.name)) throw usageError(`--${token.name} is given more than once`)
    seen.add(token.name)
  }
  const values = parsed.values as Record<string, string | boolean | undefined>
  return {
    string: (name) => {
      const value = values[name]
      return typeof value === 'string' ? value : undefined
    },
    boolean: (name) => values[name] === true,
    has: (name) => values[name] !== undefined,
  }
}

function parseStrictly(
  argv: readonly string[],
  options: FlagOptions,
  specs: readonly FlagSpec[],
  hints: Readonly<Record<string, string>>,
) {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false, tokens: true })
  } catch (error) {
    throw translate(error, specs, hints)
  }
}

/** Rewords `parseArgs` errors as one line; never echoes an argument's value, which may be a secret. */
function translate(error: unknown, specs: readonly FlagSpec[], hints: Readonly<Record<string, string>>) {
  const code = (error as { code?: unknown }).code
  const message = error instanceof Error ? error.message : String(error)
  const flag = /'(-{1,2}[^'\s<=]+)/.exec(message)?.[1]
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && flag !== undefined) {
    const hint = hints[flag]
    if (hint !== undefined) return usageError(`${flag} is not a flag: ${hint}`)
    const names = specs.map((spec) => `--${spec.name}`)
    const suggestion = closest(flag, names)
    return usageError(
      `unknown flag ${flag}${suggestion === undefined ? '' : ` (did you mean ${suggestion}?)`}; see --help`,
    )
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && flag !== undefined) {
    const spec = specs.find((candidate) => `--${candidate.name}` === flag || `-${candidate.short}` === flag)
    if (spec?.value === undefined) return usageError(`${flag} takes no value`)
    if (message.includes('ambiguous')) {
      return usageError(
        `${flag} needs a value (${flag} ${spec.value}); for one that starts with -, use ${flag}=…`,
      )
    }
    return usageError(`${flag} needs a value (${flag} ${spec.value})`)
  }
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    return usageError('this command takes flags only, no other arguments; see --help')
  }
  return usageError(message.split('\n')[0] ?? message)
}
