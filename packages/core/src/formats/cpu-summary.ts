import { functionIdentity, functionKey, type CpuProfile, type FunctionIdentity } from './v8-profiles.js'

export interface FunctionTime extends FunctionIdentity {
  selfMs: number
  totalMs: number
  /** Shares of the profile's sampled time, 0…1. */
  selfShare: number
  totalShare: number
}

export interface CpuSummary {
  /** Sampled time in ms: the sum of every sample's duration. */
  sampledMs: number
  samples: number
  /** Shares of sampled time spent idle (waiting on I/O), in GC, and in V8/native code outside JS. */
  idleShare: number
  gcShare: number
  programShare: number
  /** JavaScript functions, hottest by self time first. V8's pseudo-frames are left out. */
  functions: FunctionTime[]
}

type ProfileNode = CpuProfile['nodes'][number]

const PSEUDO_FRAMES = new Set(['(root)', '(idle)', '(program)', '(garbage collector)'])

/**
 * Self and total time per function. Each sample lasts until the next one (V8 samples late under load, so the
 * real deltas are used, not the requested interval). A function counts once per sample in its total, however
 * often it recurses.
 */
export function summarizeCpuProfile(profile: CpuProfile): CpuSummary {
  const nodes = new Map<number, ProfileNode>(profile.nodes.map((node) => [node.id, node]))
  const parents = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id)

  const nodeTime = sampleTimePerNode(profile)
  let sampledUs = 0
  for (const time of nodeTime.values()) sampledUs += time

  const byFunction = new Map<string, FunctionTime>()
  const entryOf = (node: ProfileNode): FunctionTime => {
    const key = functionKey(node.callFrame)
    let entry = byFunction.get(key)
    if (entry === undefined) {
      entry = { ...functionIdentity(node.callFrame), selfMs: 0, totalMs: 0, selfShare: 0, totalShare: 0 }
      byFunction.set(key, entry)
    }
    return entry
  }
  const pseudo = { '(idle)': 0, '(garbage collector)': 0, '(program)': 0 } as Record<string, number>

  for (const [id, timeUs] of nodeTime) {
    const leaf = nodes.get(id)
    if (leaf === undefined || timeUs === 0) continue
    const leafName = leaf.callFrame.functionName
    if (PSEUDO_FRAMES.has(leafName)) {
      pseudo[leafName] = (pseudo[leafName] ?? 0) + timeUs
      continue
    }
    entryOf(leaf).selfMs += timeUs / 1000
    const seen = new Set<FunctionTime>()
    for (let current: number | undefined = id; current !== undefined; current = parents.get(current)) {
      const node = nodes.get(current)
      if (node === undefined || PSEUDO_FRAMES.has(node.callFrame.functionName)) continue
      const entry = entryOf(node)
      if (seen.has(entry)) continue
      seen.add(entry)
      entry.totalMs += timeUs / 1000
    }
  }

  const sampledMs = sampledUs / 1000
  const share = (ms: number) => (sampledMs > 0 ? ms / sampledMs : 0)
  const functions = [...byFunction.values()]
    .map((entry) => ({ ...entry, selfShare: share(entry.selfMs), totalShare: share(entry.totalMs) }))
    .sort((a, b) => b.selfMs - a.selfMs || b.totalMs - a.totalMs)
  return {
    sampledMs,
    samples: profile.samples?.length ?? 0,
    idleShare: share((pseudo['(idle)'] ?? 0) / 1000),
    gcShare: share((pseudo['(garbage collector)'] ?? 0) / 1000),
    programShare: share((pseudo['(program)'] ?? 0) / 1000),
    functions,
  }
}

/** µs of sampled time per node id. Falls back to hit counts × the mean interval for profiles without samples. */
export function sampleTimePerNode(profile: CpuProfile): Map<number, number> {
  const time = new Map<number, number>()
  const list = wholeSampleList(profile)
  if (list !== undefined) {
    const { samples, timeDeltas } = list
    let at = profile.startTime
    const stamps = timeDeltas.map((delta) => (at += delta))
    samples.forEach((id, index) => {
      const next = index + 1 < stamps.length ? stamps[index + 1]! : profile.endTime
      time.set(id, (time.get(id) ?? 0) + Math.max(0, next - stamps[index]!))
    })
    return time
  }
  const hits = profile.nodes.reduce((sum, node) => sum + (node.hitCount ?? 0), 0)
  const meanUs = hits > 0 ? (profile.endTime - profile.startTime) / hits : 0
  for (const node of profile.nodes) time.set(node.id, (node.hitCount ?? 0) * meanUs)
  return time
}

/**
 * Samples per leaf node id, read from the same source as sampleTimePerNode (the sample list when it has a
 * delta for every sample, hit counts otherwise), so that counts and times describe the same samples.
 */
export function sampleCountPerNode(profile: CpuProfile): Map<number, number> {
  const counts = new Map<number, number>()
  const list = wholeSampleList(profile)
  if (list !== undefined) {
    const { samples } = list
    for (const id of samples) counts.set(id, (counts.get(id) ?? 0) + 1)
    return counts
  }
  for (const node of profile.nodes) counts.set(node.id, node.hitCount ?? 0)
  return counts
}

/** Both functions above read the sample list only when it is whole: a delta for every sample. */
function wholeSampleList(profile: CpuProfile): { samples: number[]; timeDeltas: number[] } | undefined {
  const { samples, timeDeltas } = profile
  if (samples === undefined || timeDeltas === undefined) return undefined
  return samples.length === timeDeltas.length && samples.length > 0 ? { samples, timeDeltas } : undefined
}
