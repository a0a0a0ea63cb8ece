/** The parts of V8's profile formats that Tripwire reads (Chrome DevTools Protocol `Profiler`, `HeapProfiler`). */

/** Where a profile node's code lives; `lineNumber` and `columnNumber` are 0-based. */
export interface CallFrame {
  functionName: string
  scriptId: string
  url: string
  lineNumber: number
  columnNumber: number
}

/** A function as people read it in a summary: its name, script and 1-based starting line. */
export interface FunctionIdentity {
  functionName: string
  /** The script's URL (`file:///…`, `node:internal/…`), empty for V8's own entries. */
  url: string
  /** 1-based line where the function starts (0 when unknown). */
  line: number
}

/** Name, script and position together tell functions apart (two anonymous functions in a file differ). */
export function functionKey(callFrame: CallFrame): string {
  return `${callFrame.functionName}\u0000${callFrame.url}\u0000${callFrame.lineNumber}\u0000${callFrame.columnNumber}`
}

export function functionIdentity(callFrame: CallFrame): FunctionIdentity {
  return {
    functionName: callFrame.functionName || '(anonymous)',
    url: callFrame.url,
    line: callFrame.lineNumber + 1,
  }
}

/** The fields of a V8 `.cpuprofile` that Tripwire reads. */
export interface CpuProfile {
  nodes: {
    id: number
    callFrame: {
      functionName: string
      scriptId: string
      url: string
      lineNumber: number
      columnNumber: number
    }
    hitCount?: number
    children?: number[]
    positionTicks?: { line: number; ticks: number }[]
  }[]
  startTime: number
  endTime: number
  samples?: number[]
  timeDeltas?: number[]
}

/** The fields of a V8 `.heapprofile` (sampling heap profile) that Tripwire reads. */
export interface HeapProfileNode {
  callFrame: CallFrame
  selfSize: number
  id: number
  children: HeapProfileNode[]
}

export interface HeapProfile {
  head: HeapProfileNode
  samples?: { size: number; nodeId: number; ordinal: number }[]
}
