import { setImmediate as nextTurn } from 'node:timers/promises'
import type { TraceMap } from '@jridgewell/trace-mapping'
import type { CpuProfile, HeapProfile, HeapProfileNode } from '../formats/v8-profiles.js'
import { FrameMapper, type FrameCounts } from './frame-mapper.js'
import type { SourceMapLookup } from './source-map-cache.js'

export interface MappedProfile<Profile> {
  /**
   * A new profile; the input is left untouched (its `samples` and `timeDeltas` arrays are shared, not copied).
   * The input itself when no script has a map.
   */
  profile: Profile
  frames: FrameCounts
}

/**
 * How long mapping may hold the event loop before it lets the application run: a large profile must not hold
 * it for long, and a yield per fixed number of nodes would let every yield's wait (the application's own work
 * in between) add up to more than the mapping itself on a busy service.
 */
const SLICE_MS = 4
/** Nodes between two clock reads. */
const NODES_PER_CLOCK_READ = 64
/** Scripts whose maps are looked up at once; each lookup is a few small reads. */
const CONCURRENT_LOOKUPS = 8

/**
 * Points a CPU profile's frames at the original sources where the scripts have source maps: URL, line and
 * column of the original function, its name from the map when V8 had none, and line ticks on original lines.
 * Frames without a map stay as they are. Never rejects for a missing or broken map.
 */
export async function mapCpuProfile(
  profile: CpuProfile,
  lookup: SourceMapLookup,
): Promise<MappedProfile<CpuProfile>> {
  // one pass over a flat array of small objects: cheap enough to run without yielding
  const urls = new Set(profile.nodes.map((node) => node.callFrame.url))
  const mapper = new FrameMapper(await loadMaps(urls, lookup))
  if (!mapper.hasMaps) {
    // nothing to map (no script has a map): count the frames, copy nothing
    for (const node of profile.nodes) mapper.map(node.callFrame)
    return { profile, frames: mapper.counts }
  }
  const nodes: CpuProfile['nodes'] = []
  const slice = new TimeSlice()
  for (const [index, node] of profile.nodes.entries()) {
    if (index % NODES_PER_CLOCK_READ === 0) await slice.yieldIfSpent()
    const frame = mapper.map(node.callFrame)
    // frames are memoised per distinct frame: each node still gets its own object
    const copy = { ...node, callFrame: { ...(frame?.callFrame ?? node.callFrame) } }
    if (node.children !== undefined) copy.children = [...node.children]
    if (node.positionTicks !== undefined) {
      copy.positionTicks =
        frame === undefined
          ? node.positionTicks.map((tick) => ({ ...tick }))
          : mapper.ticks(frame, node.positionTicks)
    }
    nodes.push(copy)
  }
  return { profile: { ...profile, nodes }, frames: mapper.counts }
}

/** The same for a sampling heap profile's tree, walked without recursion (V8 trees can be thousands deep). */
export async function mapHeapProfile(
  profile: HeapProfile,
  lookup: SourceMapLookup,
): Promise<MappedProfile<HeapProfile>> {
  const urls = new Set<string>()
  const pending = [profile.head]
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    urls.add(node.callFrame.url)
    for (const child of node.children) pending.push(child)
  }
  const mapper = new FrameMapper(await loadMaps(urls, lookup))
  if (!mapper.hasMaps) {
    // nothing to map: count the frames, copy nothing
    const walk = [profile.head]
    for (let node = walk.pop(); node !== undefined; node = walk.pop()) {
      mapper.map(node.callFrame)
      for (const child of node.children) walk.push(child)
    }
    return { profile, frames: mapper.counts }
  }
  const copyOf = (node: HeapProfileNode): HeapProfileNode => ({
    ...node,
    callFrame: { ...(mapper.map(node.callFrame)?.callFrame ?? node.callFrame) },
    children: [],
  })

  const head = copyOf(profile.head)
  const stack: [HeapProfileNode, HeapProfileNode][] = [[profile.head, head]]
  const slice = new TimeSlice()
  let copied = 1
  for (let entry = stack.pop(); entry !== undefined; entry = stack.pop()) {
    const [original, copy] = entry
    for (const child of original.children) {
      if (copied++ % NODES_PER_CLOCK_READ === 0) await slice.yieldIfSpent()
      const childCopy = copyOf(child)
      copy.children.push(childCopy)
      stack.push([child, childCopy])
    }
  }
  return { profile: { ...profile, head }, frames: mapper.counts }
}

/** Work done in slices of at most `SLICE_MS`, with a turn of the event loop between them. */
class TimeSlice {
  private startedAt = performance.now()

  async yieldIfSpent(): Promise<void> {
    if (performance.now() - this.startedAt < SLICE_MS) return
    await nextTurn()
    this.startedAt = performance.now()
  }
}

/** The maps of the scripts that have one, by frame URL. */
async function loadMaps(urls: Iterable<string>, lookup: SourceMapLookup): Promise<Map<string, TraceMap>> {
  const queue = [...urls]
  const maps = new Map<string, TraceMap>()
  const worker = async () => {
    for (let url = queue.pop(); url !== undefined; url = queue.pop()) {
      // a lookup is not supposed to reject; one that does means "no map", not a failed capture
      const map = await lookup.get(url).catch(() => undefined)
      if (map !== undefined) maps.set(url, map)
    }
  }
  await Promise.all(Array.from({ length: CONCURRENT_LOOKUPS }, worker))
  return maps
}
