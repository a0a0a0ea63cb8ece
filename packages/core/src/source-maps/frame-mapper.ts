import { pathToFileURL } from 'node:url'
import { isAbsolute } from 'node:path'
import {
  decodedMappings,
  GREATEST_LOWER_BOUND,
  LEAST_UPPER_BOUND,
  originalPositionFor,
  type TraceMap,
} from '@jridgewell/trace-mapping'
import { functionKey, type CallFrame } from '../formats/v8-profiles.js'

export interface FrameCounts {
  /** Distinct call frames in the profile (name, URL, line, column), V8's pseudo-frames included. */
  total: number
  /** Those that now point at an original source. */
  mapped: number
}

export interface PositionTick {
  line: number
  ticks: number
}

export interface MappedFrame {
  callFrame: CallFrame
  map: TraceMap
  /** The original source as the map resolves it; tick lines are taken only from segments of this source. */
  source: string
  /** 1-based line of the original function start, where ticks that map nowhere better are put. */
  line: number
}

/**
 * Maps the call frames of one profile through the maps found for its scripts, each distinct frame once, and
 * counts how many it could map. Synchronous: the caller decides when to yield.
 */
export class FrameMapper {
  private readonly frames = new Map<string, MappedFrame | null>()
  private mappedCount = 0

  /** `maps` holds the parsed map of every script URL that has one. */
  constructor(private readonly maps: ReadonlyMap<string, TraceMap>) {}

  /** Whether any script has a map: without one, every frame stays as it is. */
  get hasMaps(): boolean {
    return this.maps.size > 0
  }

  get counts(): FrameCounts {
    return { total: this.frames.size, mapped: this.mappedCount }
  }

  /** The frame pointing at the original source, or `undefined` when it stays as it is. */
  map(callFrame: CallFrame): MappedFrame | undefined {
    const key = functionKey(callFrame)
    let mapped = this.frames.get(key)
    if (mapped === undefined) {
      mapped = this.tryLookUp(callFrame) ?? null
      this.frames.set(key, mapped)
      if (mapped !== null) this.mappedCount++
    }
    return mapped ?? undefined
  }

  /**
   * Line ticks of a mapped frame, moved to original lines. Tick lines have no column, so each generated line
   * goes to the first segment on it from the frame's own source; lines with none (emitted helpers, code
   * inlined from another file of a bundle) go to the function's first line, so the ticks still sum to the
   * hit count. Ticks landing on one original line are merged.
   */
  ticks(frame: MappedFrame, positionTicks: readonly PositionTick[]): PositionTick[] {
    const lines = decodedMappings(frame.map)
    const merged = new Map<number, number>()
    for (const { line, ticks } of positionTicks) {
      let original = frame.line
      for (const segment of lines[line - 1] ?? []) {
        if (segment.length !== 1 && frame.map.resolvedSources[segment[1]] === frame.source) {
          original = segment[2] + 1
          break
        }
      }
      merged.set(original, (merged.get(original) ?? 0) + ticks)
    }
    return [...merged].map(([line, ticks]) => ({ line, ticks }))
  }

  /** A map that parsed but answers oddly leaves its frames as they are rather than failing the profile. */
  private tryLookUp(callFrame: CallFrame): MappedFrame | undefined {
    try {
      return this.lookUp(callFrame)
    } catch {
      return undefined
    }
  }

  private lookUp(callFrame: CallFrame): MappedFrame | undefined {
    const map = this.maps.get(callFrame.url)
    if (map === undefined) return undefined
    // V8 gives the function's start; the nearest segment at or before it is the function's own, and when the
    // line has none that early (a wrapper line), the first one after it
    const needle = { line: callFrame.lineNumber + 1, column: callFrame.columnNumber }
    let position = originalPositionFor(map, { ...needle, bias: GREATEST_LOWER_BOUND })
    if (position.source === null) position = originalPositionFor(map, { ...needle, bias: LEAST_UPPER_BOUND })
    if (position.source === null) return undefined
    return {
      callFrame: {
        ...callFrame,
        functionName: callFrame.functionName !== '' ? callFrame.functionName : (position.name ?? ''),
        url: sourceUrl(position.source),
        lineNumber: position.line - 1,
        columnNumber: position.column,
      },
      map,
      source: position.source,
      line: position.line,
    }
  }
}

/** A `file://` URL for a source on disk; other URLs (`webpack://…`) pass through normalised. */
function sourceUrl(source: string): string {
  if (isAbsolute(source)) return pathToFileURL(source).href
  try {
    return new URL(source).href
  } catch {
    return source
  }
}
