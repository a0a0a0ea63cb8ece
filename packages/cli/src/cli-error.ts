/** Exit codes: 2 when the command line is wrong, 1 when the world is (a file, a key, the environment). */
export const EXIT_RUNTIME = 1
export const EXIT_USAGE = 2

/**
 * An error the user can act on. Its message is printed as one line after `tripwire: `; no stack, because the
 * reader is an operator at a terminal, not a developer of the CLI.
 */
export class CliError extends Error {
  override readonly name = 'CliError'

  constructor(
    message: string,
    readonly exitCode: typeof EXIT_RUNTIME | typeof EXIT_USAGE,
  ) {
    super(message)
  }
}

export function usageError(message: string): CliError {
  return new CliError(message, EXIT_USAGE)
}

export function runtimeError(message: string): CliError {
  return new CliError(message, EXIT_RUNTIME)
}

/** Folds any message into one line, so that a multi-line message from a library cannot break the format. */
export function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim()
}
