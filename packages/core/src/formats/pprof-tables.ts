import { Function as PprofFunction, Line, Location, StringTable } from 'pprof-format'
import { scriptPath } from './script-path.js'
import { functionKey, type CallFrame } from './v8-profiles.js'

/**
 * The string, function and location tables of one pprof profile, deduplicated as they fill. Functions are
 * told apart as the summaries tell them apart (name, script, position); a location is one line of one
 * function, since V8 gives no addresses.
 */
export class PprofTables {
  readonly strings = new StringTable()
  readonly functions: PprofFunction[] = []
  readonly locations: Location[] = []
  private readonly functionIds = new Map<string, number>()
  private readonly locationIds = new Map<string, number>()

  /** The id of the location at `line` (1-based; 0 when unknown) in the function of `callFrame`. */
  location(callFrame: CallFrame, line: number): number {
    const functionId = this.functionId(callFrame)
    const key = `${functionId}:${line}`
    let id = this.locationIds.get(key)
    if (id === undefined) {
      id = this.locations.length + 1
      this.locations.push(new Location({ id, line: [new Line({ functionId, line })] }))
      this.locationIds.set(key, id)
    }
    return id
  }

  /** The location of the function's first line: the best V8 records for a frame that is not the leaf. */
  frame(callFrame: CallFrame): number {
    return this.location(callFrame, startLine(callFrame))
  }

  private functionId(callFrame: CallFrame): number {
    const key = functionKey(callFrame)
    let id = this.functionIds.get(key)
    if (id === undefined) {
      id = this.functions.length + 1
      const name = this.strings.dedup(callFrame.functionName || '(anonymous)')
      this.functions.push(
        new PprofFunction({
          id,
          name,
          systemName: name,
          filename: this.strings.dedup(scriptPath(callFrame.url)),
          startLine: startLine(callFrame),
        }),
      )
      this.functionIds.set(key, id)
    }
    return id
  }
}

/** V8's 0-based line to pprof's 1-based one; V8's own entries (line -1) have none, which pprof spells 0. */
export function startLine(callFrame: CallFrame): number {
  return callFrame.lineNumber >= 0 ? callFrame.lineNumber + 1 : 0
}
