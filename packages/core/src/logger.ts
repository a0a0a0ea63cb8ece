import { debuglog } from 'node:util'
import type { Logger } from './types.js'

const debug = debuglog('tripwire')

function format(message: string, fields?: Record<string, unknown>): string {
  return fields === undefined ? message : `${message} ${JSON.stringify(fields)}`
}

/**
 * The default logger: quiet unless `NODE_DEBUG=tripwire`, except warnings and errors, which go through
 * `process.emitWarning` so they show once on stderr the way Node's own warnings do.
 */
export const defaultLogger: Logger = Object.freeze<Logger>({
  debug: (message, fields) => debug(format(message, fields)),
  info: (message, fields) => debug(format(message, fields)),
  warn: (message, fields) => process.emitWarning(format(message, fields), { type: 'TripwireWarning' }),
  error: (message, fields) => process.emitWarning(format(message, fields), { type: 'TripwireError' }),
})
