#!/usr/bin/env node
import { CliError, EXIT_RUNTIME, EXIT_USAGE, oneLine } from './cli-error.js'
import type { Command, CommandIo } from './command.js'
import { COMMANDS } from './commands/index.js'
import { wantsHelp } from './flags.js'
import { commandHelp, mainHelp } from './help-text.js'
import { closest } from './suggest.js'
import { cliVersion } from './version.js'

const io: CommandIo = {
  env: process.env,
  out: (text) => void process.stdout.write(text),
  warn: (message) => void process.stderr.write(`tripwire: warning: ${message}\n`),
  note: (text) => void process.stderr.write(text),
  interactive: process.stderr.isTTY === true,
  columns: process.stderr.isTTY === true ? process.stderr.columns : undefined,
}

/** Dispatches `tripwire <command> …`; resolves to the exit code. */
async function main(argv: readonly string[]): Promise<number> {
  const [first, ...rest] = argv
  if (first === undefined) {
    throw new CliError(
      `missing command; try: tripwire ${COMMANDS[0]!.name} --help, or tripwire --help`,
      EXIT_USAGE,
    )
  }
  if (first === '--version' || first === '-v') {
    io.out(`${cliVersion()}\n`)
    return 0
  }
  if (first === '--help' || first === '-h') {
    io.out(`${mainHelp(COMMANDS, cliVersion())}\n`)
    return 0
  }
  if (first === 'help') {
    io.out(`${rest[0] === undefined ? mainHelp(COMMANDS, cliVersion()) : commandHelp(find(rest[0]))}\n`)
    return 0
  }
  const command = find(first)
  if (wantsHelp(rest)) {
    io.out(`${commandHelp(command)}\n`)
    return 0
  }
  await command.run(rest, io)
  return 0
}

function find(name: string): Command {
  const command = COMMANDS.find((candidate) => candidate.name === name)
  if (command !== undefined) return command
  const names = COMMANDS.map((candidate) => candidate.name)
  if (name.startsWith('-')) {
    const suggestion = closest(name, ['--help', '--version'])
    throw new CliError(
      suggestion === undefined
        ? `unknown flag ${name}; flags of a command go after its name, as in: tripwire ${names[0]!} ${name}`
        : `unknown flag ${name} (did you mean ${suggestion}?)`,
      EXIT_USAGE,
    )
  }
  const suggestion = closest(name, names)
  throw new CliError(
    `unknown command ${JSON.stringify(name)}${suggestion === undefined ? '' : ` (did you mean ${suggestion}?)`}; commands: ${names.join(', ')}`,
    EXIT_USAGE,
  )
}

/** One line on stderr, no stack: a CliError is the user's to fix; anything else is a bug, said as much. */
function report(error: unknown): number {
  if (error instanceof CliError) {
    process.stderr.write(`tripwire: ${oneLine(error.message)}\n`)
    return error.exitCode
  }
  const message = error instanceof Error ? error.message : String(error)
  process.stderr.write(`tripwire: unexpected error: ${oneLine(message)}\n`)
  return EXIT_RUNTIME
}

// `tripwire token | head -c 20` closes the pipe early: that is the reader's choice, not an error to report
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') process.stderr.write(`tripwire: cannot write the output: ${error.message}\n`)
  process.exit(error.code === 'EPIPE' ? 0 : EXIT_RUNTIME)
})

// exitCode rather than exit(): stdout may still be draining into a pipe
process.exitCode = await main(process.argv.slice(2)).catch(report)
