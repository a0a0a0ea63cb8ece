/** The parts of V8's profile formats that Tripwire reads (Chrome DevTools Protocol `Profiler`, `HeapProfiler`). */

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
  callFrame: { functionName: string; scriptId: string; url: string; lineNumber: number; columnNumber: number }
  selfSize: number
  id: number
  children: HeapProfileNode[]
}

export interface HeapProfile {
  head: HeapProfileNode
  samples?: { size: number; nodeId: number; ordinal: number }[]
}
