import type { FlagSection, OperandSpec } from './flags.js'

/** Where a command writes and what it may read; `main` passes the process's, a test may pass its own. */
export interface CommandIo {
  readonly env: NodeJS.ProcessEnv
  /** The command's result, on stdout. */
  out(text: string): void
  /** A warning on stderr: the command still succeeds. */
  warn(message: string): void
  /** Progress and notes on stderr, written as they are: never part of the result a script reads. */
  note(text: string): void
  /** Whether stderr is a terminal, where a progress bar may redraw its line in place. */
  readonly interactive: boolean
  /** The terminal's width in columns, when stderr is one. */
  readonly columns: number | undefined
}

export interface Example {
  /** What the example does, printed as a shell comment above it. */
  comment: string
  command: string
}

/** One `tripwire <name>` subcommand, with everything its `--help` shows. */
export interface Command {
  readonly name: string
  /** One line for the command list in `tripwire --help`. */
  readonly summary: string
  /** Usage lines without the leading `tripwire `. */
  readonly usage: readonly string[]
  readonly description: string
  /** The positional arguments, in order; none for a command of flags only. */
  readonly operands?: readonly OperandSpec[]
  readonly sections: readonly FlagSection[]
  readonly examples: readonly Example[]
  /** Throws `CliError` for anything the user can fix; `argv` excludes the command name. */
  run(argv: readonly string[], io: CommandIo): void | Promise<void>
}
