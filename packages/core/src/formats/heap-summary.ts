import {
  functionIdentity,
  functionKey,
  type FunctionIdentity,
  type HeapProfile,
  type HeapProfileNode,
} from './v8-profiles.js'

export interface FunctionAllocation extends FunctionIdentity {
  /** Sampled bytes allocated by the function itself and still sampled at the end of the window. */
  selfBytes: number
  /** Self bytes plus everything allocated below it (a function counts once per stack). */
  totalBytes: number
  selfShare: number
}

export interface HeapSummary {
  totalBytes: number
  /** Hottest by self bytes first. */
  functions: FunctionAllocation[]
}

/** Bytes per allocating function in a sampling heap profile. */
export function summarizeHeapProfile(profile: HeapProfile): HeapSummary {
  const byFunction = new Map<string, FunctionAllocation>()
  let totalBytes = 0
  const entryOf = (node: HeapProfileNode): FunctionAllocation => {
    const key = functionKey(node.callFrame)
    let entry = byFunction.get(key)
    if (entry === undefined) {
      entry = { ...functionIdentity(node.callFrame), selfBytes: 0, totalBytes: 0, selfShare: 0 }
      byFunction.set(key, entry)
    }
    return entry
  }
  // iterative walk: allocation stacks can be deeper than is safe to recurse on
  const stack: { node: HeapProfileNode; path: FunctionAllocation[] }[] = [{ node: profile.head, path: [] }]
  while (stack.length > 0) {
    const { node, path } = stack.pop()!
    const isRoot = node === profile.head
    const here = isRoot ? path : [...path, entryOf(node)]
    if (node.selfSize > 0) {
      totalBytes += node.selfSize
      if (!isRoot) entryOf(node).selfBytes += node.selfSize
      for (const entry of new Set(here)) entry.totalBytes += node.selfSize
    }
    for (const child of node.children) stack.push({ node: child, path: here })
  }
  const functions = [...byFunction.values()]
    .filter((entry) => entry.totalBytes > 0)
    .map((entry) => ({ ...entry, selfShare: totalBytes > 0 ? entry.selfBytes / totalBytes : 0 }))
    .sort((a, b) => b.selfBytes - a.selfBytes || b.totalBytes - a.totalBytes)
  return { totalBytes, functions }
}
