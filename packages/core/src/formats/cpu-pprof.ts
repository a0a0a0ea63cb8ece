import { Profile, Sample, ValueType } from 'pprof-format'
import { apportion } from './apportion.js'
import { sampleCountPerNode, sampleTimePerNode } from './cpu-summary.js'
import { PprofTables } from './pprof-tables.js'
import type { CpuProfile } from './v8-profiles.js'

export interface CpuPprofOptions {
  /** The wall-clock time the profiler started: V8's own timestamps count from an arbitrary origin. */
  startedAt?: Date
}

type ProfileNode = CpuProfile['nodes'][number]

/**
 * A `.cpuprofile` as a pprof profile with sample types `samples/count` and `cpu/nanoseconds`.
 *
 * Each sample lasts until the next one, exactly as summarizeCpuProfile counts it, so the totals equal the
 * native profile's sample count and sampled time. `(program)`, `(garbage collector)` and `(idle)` are kept
 * as functions of their own. Dropping `(idle)` would make every share in `go tool pprof` a share of busy
 * time, and the totals would no longer match the native profile or `top`; kept, an idle-heavy capture shows
 * as such at once, and `-hide='\(idle\)'` gives the busy-only view to whoever wants it.
 */
export function cpuProfileToPprof(profile: CpuProfile, options: CpuPprofOptions = {}): Profile {
  const tables = new PprofTables()
  const { strings } = tables
  const nodes = new Map<number, ProfileNode>(profile.nodes.map((node) => [node.id, node]))
  const parents = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id)

  const counts = sampleCountPerNode(profile)
  const micros = sampleTimePerNode(profile)
  const samples: Sample[] = []
  for (const leaf of profile.nodes) {
    const count = counts.get(leaf.id) ?? 0
    // whole µs in every real profile, so × 1000 is exact; rounding only touches the hit-count fallback
    const nanos = Math.round((micros.get(leaf.id) ?? 0) * 1000)
    if (count === 0 && nanos === 0) continue
    const callers = callerLocations(leaf.id, nodes, parents, tables)
    const ticks = (leaf.positionTicks ?? []).filter((tick) => tick.ticks > 0)
    if (ticks.length === 0) {
      samples.push(
        new Sample({ locationId: [tables.frame(leaf.callFrame), ...callers], value: [count, nanos] }),
      )
      continue
    }
    // line-level: the leaf's samples split across the lines V8 saw it on, in whole samples and nanoseconds.
    // The lines are V8's as given: code inlined into the function can report a line of its own script.
    const weights = ticks.map((tick) => tick.ticks)
    const lineCounts = apportion(count, weights)
    const lineNanos = apportion(nanos, weights)
    ticks.forEach((tick, index) => {
      const value = [lineCounts[index] ?? 0, lineNanos[index] ?? 0]
      if (value[0] === 0 && value[1] === 0) return
      const leafLocation = tables.location(leaf.callFrame, tick.line) // positionTicks lines are 1-based
      samples.push(new Sample({ locationId: [leafLocation, ...callers], value }))
    })
  }

  const sampleCount = [...counts.values()].reduce((sum, count) => sum + count, 0)
  const spanNanos = Math.max(0, Math.round((profile.endTime - profile.startTime) * 1000))
  const cpu = new ValueType({ type: strings.dedup('cpu'), unit: strings.dedup('nanoseconds') })
  return new Profile({
    sampleType: [new ValueType({ type: strings.dedup('samples'), unit: strings.dedup('count') }), cpu],
    sample: samples,
    location: tables.locations,
    function: tables.functions,
    stringTable: strings,
    ...(options.startedAt !== undefined &&
      Number.isFinite(options.startedAt.getTime()) && {
        timeNanos: BigInt(options.startedAt.getTime()) * 1_000_000n,
      }),
    durationNanos: spanNanos,
    periodType: cpu,
    // the effective interval: V8 samples less often than asked, more so under load
    period: sampleCount > 0 ? Math.round(spanNanos / sampleCount) : 0,
    comment: [
      strings.dedup('tripwire: from a V8 .cpuprofile; (idle) is time spent waiting in the event loop'),
    ],
    defaultSampleType: strings.dedup('cpu'),
  })
}

/** The leaf's callers, innermost first as pprof wants them, without the synthetic `(root)`. */
function callerLocations(
  leafId: number,
  nodes: Map<number, ProfileNode>,
  parents: Map<number, number>,
  tables: PprofTables,
): number[] {
  const locations: number[] = []
  // bounded by the node count, so that a malformed profile whose parents loop cannot hang the process
  for (
    let id = parents.get(leafId);
    id !== undefined && locations.length < nodes.size;
    id = parents.get(id)
  ) {
    const node = nodes.get(id)
    if (node === undefined || !parents.has(id)) break // the root has no parent
    locations.push(tables.frame(node.callFrame))
  }
  return locations
}
