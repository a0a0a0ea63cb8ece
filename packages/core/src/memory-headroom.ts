import { freemem } from 'node:os'

export interface MemoryHeadroom {
  heapUsedBytes: number
  /** Memory the process may still use: the cgroup limit or the machine's free memory, whichever is lower. */
  availableBytes: number
}

/** How much memory is left for something that needs a multiple of the heap (a heap snapshot). */
export function measureMemoryHeadroom(): MemoryHeadroom {
  const heapUsedBytes = process.memoryUsage().heapUsed
  // process.availableMemory (Node ≥ 20.13) accounts for the cgroup limit; older lines fall back to free memory
  const available = typeof process.availableMemory === 'function' ? process.availableMemory() : freemem()
  return { heapUsedBytes, availableBytes: Math.min(available, freemem()) }
}
