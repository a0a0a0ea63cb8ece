import type { Command } from '../command.js'
import { tokenCommand } from './token.js'

/** Every subcommand, in the order `tripwire --help` lists them. */
export const COMMANDS: readonly Command[] = [tokenCommand]
