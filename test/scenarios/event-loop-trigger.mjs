// The event-loop rule: the process blocks its own loop with synchronous work (~150 ms of every ~200 ms) until
// the rule fires a CPU capture, then prints that capture's metadata and what the stored profile says about the
// blocking function.
// argv: <sink dir>   (run with --no-use-osr, see blockTheLoopScenario)
import { createTripwire, LocalDiskSink, summarizeCpuProfile } from '@tripwire/core'
import { setTimeout as sleep } from 'node:timers/promises'
import { printResult } from './lib.mjs'

const [dir] = process.argv.slice(2)
/** Give up (and report no capture) after this long. */
const DEADLINE_MS = 7000

/**
 * Blocks the event loop for `ms` with synchronous work; the name is what the test looks for in the profile.
 * The test runs this process with --no-use-osr: a long call of a function not yet optimized runs on
 * on-stack-replacement code, and when that code was compiled before the profiler started (as it is here, where
 * the capture starts because the loop is already blocked), V8 11's CPU profiler cannot attribute its samples to
 * the function: they land on the caller's frame instead.
 */
function blockTheLoopScenario(ms) {
  const end = performance.now() + ms
  let x = 0
  // mostly arithmetic rather than clock reads, so that the function's own frame is the hot one
  while (performance.now() < end) for (let i = 0; i < 20_000; i++) x += Math.sqrt(i) * Math.sin(x)
  return x
}

const tw = createTripwire({
  service: 'event-loop-scenario',
  sink: new LocalDiskSink({ dir }),
  eventLoop: { thresholdMs: 50, windowMs: 1000, capture: { kind: 'cpu', durationMs: 500 } },
  triggers: { evaluateEveryMs: 100 },
  limits: { cooldownMs: 0 },
})

async function findCapture() {
  const { items } = await tw.list({ limit: 20 })
  return items.find((item) => item.trigger.type === 'eventloop')
}

const startedAt = performance.now()
let meta
while (meta === undefined && performance.now() - startedAt < DEADLINE_MS) {
  blockTheLoopScenario(150)
  await sleep(50)
  meta = await findCapture()
}

let profile
if (meta !== undefined) {
  const stored = await tw.get(meta.id)
  const chunks = []
  for await (const chunk of stored.body) chunks.push(chunk)
  const summary = summarizeCpuProfile(JSON.parse(Buffer.concat(chunks).toString('utf8')))
  const blocking = summary.functions.find((fn) => fn.functionName === 'blockTheLoopScenario')
  profile = {
    top: summary.functions[0]?.functionName ?? null,
    topIsBlocking: summary.functions[0]?.functionName === 'blockTheLoopScenario',
    blockingSelfShare: blocking?.selfShare ?? 0,
    idleShare: summary.idleShare,
    functions: summary.functions
      .slice(0, 3)
      .map((fn) => ({ name: fn.functionName, selfShare: fn.selfShare })),
  }
}
const rule = tw.status().rules.find((candidate) => candidate.type === 'eventloop')
await tw.close()
printResult({
  meta: meta ?? null,
  profile: profile ?? null,
  rule,
  elapsedMs: Math.round(performance.now() - startedAt),
})
