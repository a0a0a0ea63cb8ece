import { Profile, Sample, ValueType } from 'pprof-format'
import { PprofTables } from './pprof-tables.js'
import type { HeapProfile, HeapProfileNode } from './v8-profiles.js'

export interface HeapPprofOptions {
  /** The wall-clock time the sampling started. */
  startedAt?: Date
  /** How long the sampling ran. */
  durationMs?: number
}

/**
 * A sampling `.heapprofile` as a pprof profile whose `inuse_space/bytes` values are the nodes' `selfSize`,
 * so its total equals the native profile's.
 *
 * There is no `inuse_objects`: the inspector reports each sample's size already multiplied by the number of
 * objects it stands for and drops that number, so object counts cannot be recovered. When the profile lists
 * its samples, `samples/count` (the sampled allocations behind each stack, unscaled) comes first instead,
 * under its true name; `inuse_space` stays last, the sample type pprof tools show by default.
 */
export function heapProfileToPprof(
  profile: HeapProfile,
  samplingIntervalBytes: number,
  options: HeapPprofOptions = {},
): Profile {
  const tables = new PprofTables()
  const { strings } = tables
  const sampledPerNode = new Map<number, number>()
  for (const sample of profile.samples ?? []) {
    sampledPerNode.set(sample.nodeId, (sampledPerNode.get(sample.nodeId) ?? 0) + 1)
  }
  const withCounts = profile.samples !== undefined

  const samples: Sample[] = []
  // iterative: allocation stacks can be deeper than is safe to recurse on
  const pending: { node: HeapProfileNode; stack: number[] }[] = [{ node: profile.head, stack: [] }]
  while (pending.length > 0) {
    const { node, stack } = pending.pop()!
    // the head is V8's synthetic (root): no frame of its own
    const here = node === profile.head ? stack : [tables.frame(node.callFrame), ...stack]
    const sampled = sampledPerNode.get(node.id) ?? 0
    if (node.selfSize > 0 || sampled > 0) {
      const value = withCounts ? [sampled, node.selfSize] : [node.selfSize]
      // bytes V8 could not place are still bytes: they stay, under (root), so the totals agree
      samples.push(new Sample({ locationId: here.length > 0 ? here : [tables.frame(node.callFrame)], value }))
    }
    for (const child of node.children) pending.push({ node: child, stack: here })
  }

  const space = new ValueType({ type: strings.dedup('inuse_space'), unit: strings.dedup('bytes') })
  const sampleType = withCounts
    ? [new ValueType({ type: strings.dedup('samples'), unit: strings.dedup('count') }), space]
    : [space]
  return new Profile({
    sampleType,
    sample: samples,
    location: tables.locations,
    function: tables.functions,
    stringTable: strings,
    ...(options.startedAt !== undefined &&
      Number.isFinite(options.startedAt.getTime()) && {
        timeNanos: BigInt(options.startedAt.getTime()) * 1_000_000n,
      }),
    ...(options.durationMs !== undefined && { durationNanos: Math.round(options.durationMs * 1e6) }),
    periodType: space,
    period: samplingIntervalBytes,
    comment: [
      strings.dedup(
        'tripwire: from a V8 sampling heap profile; bytes still live at the end of the window, scaled by V8',
      ),
    ],
    defaultSampleType: strings.dedup('inuse_space'),
  })
}
