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

/** A positional argument (`<url>`): named in usage, help and the error for a missing one. */
export interface OperandSpec {
  /** The placeholder, as usage shows it: `URL`, `ADMIN_URL`. */
  name: string
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
  /** The positional arguments, one per `OperandSpec`, in order. */
  readonly operands: readonly string[]
}

type FlagOptions = NonNullable<ParseArgsConfig['options']>

/** The help switch every command accepts; `--help` wins over every other flag, even a wrong one. */
export const helpFlag: FlagSpec = { name: 'help', short: 'h', default: 'off', help: 'show this help' }

export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--')
  return (end === -1 ? argv : argv.slice(0, end)).some((arg) => arg === '--help' || arg === '-h')
}

/**
 * Parses strictly: an unknown flag, a missing value, a value given to a switch, a repeated flag, or more or
 * fewer positional arguments than `operands` names is a usage error naming the flag or the argument. `hints`
 * adds a reason for flags that are absent on purpose.
 */
export function parseFlags(
  argv: readonly string[],
  specs: readonly FlagSpec[],
  hints: Readonly<Record<string, string>> = {},
  operands: readonly OperandSpec[] = [],
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
  const parsed = parseStrictly(argv, options, specs, hints, operands.length > 0)
  const seen = new Set<string>()
  for (const token of parsed.tokens) {
    if (token.kind !== 'option') continue
    // the last of two values would win silently, which hides a mistake such as two --kid in a script
    if (seen.has(token.name)) throw usageError(`--${token.name} is given more than once`)
    seen.add(token.name)
  }
  checkOperands(parsed.positionals, operands)
  const values = parsed.values as Record<string, string | boolean | undefined>
  return {
    operands: parsed.positionals,
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
  allowPositionals: boolean,
) {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals, tokens: true })
  } catch (error) {
    throw translate(error, specs, hints)
  }
}

/** Exactly one argument per operand; an extra one is not echoed, as it may be a secret typed in the wrong place. */
function checkOperands(given: readonly string[], operands: readonly OperandSpec[]): void {
  if (operands.length === 0) return
  const missing = operands[given.length]
  if (missing !== undefined) throw usageError(`missing ${missing.name}: ${missing.help}; see --help`)
  if (given.length > operands.length) {
    throw usageError(
      `too many arguments: this command takes ${operands.map((operand) => operand.name).join(' ')}; ` +
        'flags go with a dash (see --help)',
    )
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
