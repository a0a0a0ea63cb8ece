import type { Command } from '../command.js'
import { convertCommand } from './convert.js'
import { listCommand } from './list.js'
import { pullCommand } from './pull.js'
import { tokenCommand } from './token.js'
import { topCommand } from './top.js'
import { triggerCommand } from './trigger.js'
import { viewCommand } from './view.js'

/** Every subcommand, in the order `tripwire --help` lists them: the order of a profiling session. */
export const COMMANDS: readonly Command[] = [
  tokenCommand,
  triggerCommand,
  listCommand,
  pullCommand,
  topCommand,
  convertCommand,
  viewCommand,
]
