// The heap-pressure rule, in a process run with a small heap (--max-old-space-size=64): the process retains
// arrays of objects until heap used / heap limit passes 0.3, and goes on growing slowly (never past ~0.45, well
// before an out-of-memory crash) until the rule has fired and its capture is stored. With `snapshot`, the rule
// has snapshotOnce, so its first fire is a heap snapshot. Prints the capture's metadata (and, for a sampling
// heap profile, its top allocating function); the test reads a snapshot from the sink itself, since parsing
// it would not fit this process's heap.
// argv: <sink dir> <profile|snapshot>
import { createTripwire, LocalDiskSink, summarizeHeapProfile } from '@tripwire/core'
import { getHeapStatistics } from 'node:v8'
import { setTimeout as sleep } from 'node:timers/promises'
import { printResult } from './lib.mjs'

const [dir, mode] = process.argv.slice(2)
const snapshot = mode === 'snapshot'
/** Growth stops here whatever happens: far enough below the limit that the process never runs out of heap. */
const MAX_FRACTION = 0.45
/** Fast growth up to just past the threshold, then slow, so that the capture window sees allocations. */
const FAST_UNTIL = 0.32
const DEADLINE_MS = 8000

const retained = []
/** Retains `count` new objects; the name is what the test looks for in the heap profile. */
function growTheHeapScenario(count) {
  const chunk = new Array(count)
  for (let i = 0; i < count; i++) chunk[i] = { id: i, label: `grown-${i}`, values: [i, i * 2, i * 3] }
  retained.push(chunk)
}

function usedFraction() {
  const { used_heap_size: used, heap_size_limit: limit } = getHeapStatistics()
  return used / limit
}

const tw = createTripwire({
  service: 'heap-scenario',
  sink: new LocalDiskSink({ dir }),
  heapPressure: {
    usedFraction: 0.3,
    capture: { kind: 'heap', durationMs: 300 },
    ...(snapshot && { snapshotOnce: true }),
  },
  ...(snapshot && { heapSnapshot: { enabled: true } }),
  triggers: { evaluateEveryMs: 100 },
  limits: { cooldownMs: 0 },
})

async function findCapture() {
  const { items } = await tw.list({ limit: 20 })
  return items.find((item) => item.trigger.type === 'heap')
}

const startedAt = performance.now()
let meta
let peakFraction = 0
while (meta === undefined && performance.now() - startedAt < DEADLINE_MS) {
  const fraction = usedFraction()
  peakFraction = Math.max(peakFraction, fraction)
  if (fraction < MAX_FRACTION) growTheHeapScenario(fraction < FAST_UNTIL ? 20_000 : 1000)
  await sleep(fraction < FAST_UNTIL ? 5 : 20)
  meta = await findCapture()
}

let profile = null
if (meta !== undefined && meta.kind === 'heap') {
  const stored = await tw.get(meta.id)
  const chunks = []
  for await (const chunk of stored.body) chunks.push(chunk)
  const summary = summarizeHeapProfile(JSON.parse(Buffer.concat(chunks).toString('utf8')))
  profile = { top: summary.functions[0]?.functionName ?? null, totalBytes: summary.totalBytes }
}
const rule = tw.status().rules.find((candidate) => candidate.type === 'heap')
await tw.close()
printResult({
  meta: meta ?? null,
  profile,
  rule,
  peakFraction: Math.round(peakFraction * 1000) / 1000,
  retainedChunks: retained.length,
  elapsedMs: Math.round(performance.now() - startedAt),
})
