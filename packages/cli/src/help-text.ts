import type { Command } from './command.js'
import { helpFlag, type FlagSection, type FlagSpec, type OperandSpec } from './flags.js'

const WIDTH = 100
const LABEL_WIDTH = 22

/** `tripwire <command> --help`: usage, every flag with its default, examples. */
export function commandHelp(command: Command): string {
  return [
    `Usage:\n${command.usage.map((line) => `  tripwire ${line}`).join('\n')}`,
    wrap(command.description, 0),
    ...renderOperands(command.operands, 'Arguments'),
    ...command.sections.map(renderSection),
    renderSection({ title: 'Other', flags: [helpFlag] }),
    renderExamples(command, 'Examples'),
  ].join('\n\n')
}

/** `tripwire --help`: the commands, then each command's flags and examples, so one page says everything. */
export function mainHelp(commands: readonly Command[], version: string): string {
  const nameWidth = Math.max(...commands.map((command) => command.name.length)) + 3
  return [
    `tripwire ${version}: on-demand CPU and heap profiling for Node.js HTTP services`,
    'Usage:\n  tripwire <command> [flags]\n  tripwire <command> --help\n  tripwire --version',
    `Commands:\n${commands.map((command) => `  ${command.name.padEnd(nameWidth)}${command.summary}`).join('\n')}`,
    renderSection({
      title: 'Flags',
      flags: [helpFlag, { name: 'version', default: 'off', help: 'print the version and exit' }],
    }),
    ...commands.flatMap((command) => [
      ...renderOperands(command.operands, `tripwire ${command.name}: Arguments`),
      ...command.sections.map((section) =>
        renderSection({ ...section, title: `tripwire ${command.name}: ${section.title}` }),
      ),
      renderExamples(command, `Examples (tripwire ${command.name})`),
    ]),
    'Exit status: 0 success, 1 runtime error (an unreadable file, an unusable key, a service that refuses or ' +
      'cannot be reached), 2 usage error.',
  ].join('\n\n')
}

function renderSection(section: FlagSection): string {
  const lines = [`${section.title}:`]
  if (section.note !== undefined) lines.push(wrap(section.note, 2))
  for (const flag of section.flags) lines.push(renderFlag(flag))
  return lines.join('\n')
}

/** No block at all for a command of flags only. */
function renderOperands(operands: readonly OperandSpec[] | undefined, title: string): string[] {
  if (operands === undefined || operands.length === 0) return []
  return [`${title}:\n${operands.map((operand) => labelled(operand.name, operand.help)).join('\n')}`]
}

function renderFlag(flag: FlagSpec): string {
  const label = `${flag.short === undefined ? '' : `-${flag.short}, `}--${flag.name}${
    flag.value === undefined ? '' : ` ${flag.value}`
  }`
  const tail = flag.default === 'required' ? ' (required)' : ` (default: ${flag.default})`
  return labelled(label, `${flag.help}${tail}`)
}

function labelled(label: string, help: string): string {
  const text = wrap(help, LABEL_WIDTH + 2)
  const padded = `  ${label}`
  // a label too long for its column gets a line of its own rather than pushing the text out of line
  return padded.length < LABEL_WIDTH + 2
    ? `${padded.padEnd(LABEL_WIDTH + 2)}${text.trimStart()}`
    : `${padded}\n${text}`
}

function renderExamples(command: Command, title: string): string {
  const blocks = command.examples.map((example) => `  # ${example.comment}\n  ${example.command}`)
  return `${title}:\n${blocks.join('\n\n')}`
}

/** Wraps prose at WIDTH with every line indented; words longer than a line are left whole. */
function wrap(text: string, indent: number): string {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(/\s+/)) {
    if (line !== '' && indent + line.length + 1 + word.length > WIDTH) {
      lines.push(line)
      line = word
    } else {
      line = line === '' ? word : `${line} ${word}`
    }
  }
  if (line !== '') lines.push(line)
  return lines.map((each) => `${' '.repeat(indent)}${each}`).join('\n')
}
