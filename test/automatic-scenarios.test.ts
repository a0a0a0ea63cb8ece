/**
 * The automatic triggers that watch the whole process, one scenario per child process: the event-loop rule
 * (a process that blocks its own loop) and the heap-pressure rule (a process with a small heap that grows it),
 * with and without `snapshotOnce`. The scenarios in test/scenarios/ are plain .mjs files run by `node` against
 * the BUILT package (`npm run build` first); each prints one JSON line.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, afterEach, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { CaptureMeta, RuleStatus } from '@tripwire/core'
import { killRunningScenarios, runScenario } from './run-scenario.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CORE = join(ROOT, 'packages', 'core')
/**
 * The heap-pressure scenarios' heap: a 64 MiB old generation, and semi-spaces pinned at 16 MiB so that V8's
 * heap_size_limit (old generation + 3 × semi-space) is 112 MiB on every Node.js version. Node 24 sizes the
 * semi-spaces apart from the old generation (64 MiB each where memory is plenty), so its limit could be
 * 256 MiB, and heap used could not pass 30 % of it before the 64 MiB old generation runs out
 * (https://github.com/nodejs/node/issues/62723).
 */
const SMALL_HEAP = ['--max-old-space-size=64', '--max-semi-space-size=16']
/** Every child is killed (and its test failed) when it runs longer than this. */
interface EventLoopResult {
  meta: CaptureMeta | null
  profile: {
    top: string | null
    topIsBlocking: boolean
    blockingSelfShare: number
    idleShare: number
    functions: { name: string; selfShare: number }[]
  } | null
  rule: RuleStatus
  elapsedMs: number
}

interface HeapResult {
  meta: CaptureMeta | null
  profile: { top: string | null; totalBytes: number } | null
  rule: RuleStatus
  peakFraction: number
  retainedChunks: number
  elapsedMs: number
}

/** `heap used 32.4% of the 112 MiB limit > 30%` → 32.4. */
function assertHeapReason(reason: string): number {
  const match = /^heap used (\d+\.\d)% of the (\d+) MiB limit > 30%$/.exec(reason)
  assert.ok(match !== null, `unexpected reason: ${reason}`)
  const percent = Number(match[1])
  // a breach is a fraction above 0.30, which one decimal may show as 30.0
  assert.ok(percent >= 30 && percent < 60, `heap used ${percent}%`)
  // --max-old-space-size=64 plus the young generation: V8's limit is a small multiple of 64 MiB
  assert.ok(Number(match[2]) >= 64 && Number(match[2]) <= 256, `limit ${match[2]} MiB`)
  return percent
}

describe('automatic triggers on the whole process (child processes)', () => {
  let tmp: string

  before(async () => {
    await stat(join(CORE, 'dist', 'index.js')).catch(() => {
      throw new Error('packages/core/dist is missing: run `npm run build` first')
    })
    tmp = await mkdtemp(join(tmpdir(), 'tripwire-automatic-scenarios-'))
  })

  afterEach(() => {
    killRunningScenarios()
  })

  after(async () => {
    if (tmp !== undefined) await rm(tmp, { recursive: true, force: true })
  })

  it('a blocked event loop fires a CPU capture in which the blocking function is the hot one', async () => {
    const sink = join(tmp, 'event-loop-sink')
    // without on-stack replacement: see blockTheLoopScenario in the scenario for why
    const run = runScenario('event-loop-trigger.mjs', [sink], {
      execArgv: ['--no-use-osr'],
      timeoutMs: 10_000,
    })
    const result = await run.result<EventLoopResult>()
    assert.equal((await run.exited).code, 0)

    const { meta, profile, rule } = result
    assert.ok(meta !== null, `no event-loop capture within the deadline (rule: ${JSON.stringify(rule)})`)
    assert.equal(meta.kind, 'cpu')
    assert.equal(meta.status, 'completed')
    assert.equal(meta.trigger.type, 'eventloop')
    assert.equal(meta.trigger.subject, 'event-loop delay')
    assert.match(meta.trigger.reason, /^event-loop delay p99 \d+ms > 50ms \(window 1s\)$/)
    const p99 = Number(/p99 (\d+)ms/.exec(meta.trigger.reason)?.[1])
    assert.ok(p99 >= 100 && p99 < 1000, `p99 ${p99} ms for ~150 ms blocks`)
    assert.deepEqual(meta.requested, { durationMs: 500, mode: 'window', samplingIntervalUs: 1000 })
    assert.equal(meta.request, undefined, 'an event-loop capture is about no request')
    assert.equal(meta.slo, undefined)

    assert.ok(profile !== null)
    const top = JSON.stringify(profile.functions)
    assert.equal(profile.top, 'blockTheLoopScenario', `the blocking function has the most self time: ${top}`)
    assert.equal(profile.topIsBlocking, true)
    assert.ok(profile.blockingSelfShare > 0.4, `blocking self share ${profile.blockingSelfShare}`)

    assert.equal(rule.fired, 1)
    assert.equal(rule.state, 'cooling-down')
    assert.ok(
      typeof rule.observed.lastWindowP99Ms === 'number' && rule.observed.lastWindowP99Ms > 50,
      `observed ${JSON.stringify(rule.observed)}`,
    )
    const files = await readdir(sink)
    assert.deepEqual(files.sort(), [meta.fileName, `${meta.id}.json`].sort())
  })

  it('heap pressure over usedFraction fires a sampling heap capture of the growing function', async () => {
    const sink = join(tmp, 'heap-sink')
    const run = runScenario('heap-pressure-trigger.mjs', [sink, 'profile'], {
      execArgv: SMALL_HEAP,
      timeoutMs: 10_000,
    })
    const result = await run.result<HeapResult>()
    assert.equal((await run.exited).code, 0)

    const { meta, profile, rule } = result
    assert.ok(meta !== null, `no heap capture within the deadline (rule: ${JSON.stringify(rule)})`)
    assert.equal(meta.kind, 'heap')
    assert.equal(meta.status, 'completed')
    assert.equal(meta.trigger.type, 'heap')
    assert.equal(meta.trigger.subject, 'heap pressure')
    const percent = assertHeapReason(meta.trigger.reason)
    assert.ok(percent <= Math.ceil(result.peakFraction * 100), 'the reason reports what the heap was')
    assert.equal(meta.requested.durationMs, 300)
    assert.equal(meta.requested.mode, 'window')
    assert.ok(result.peakFraction < 0.5, `the scenario stopped growing in time (peak ${result.peakFraction})`)

    assert.ok(profile !== null && profile.totalBytes > 0, 'the heap profile has samples')
    assert.equal(profile.top, 'growTheHeapScenario', 'the growing function allocated the most')
    assert.equal(rule.fired, 1)
    assert.equal(rule.capturesLeft, 2)
  })

  it('with snapshotOnce, the first heap-pressure fire is a heap snapshot', async () => {
    const sink = join(tmp, 'heap-snapshot-sink')
    const run = runScenario('heap-pressure-trigger.mjs', [sink, 'snapshot'], {
      execArgv: SMALL_HEAP,
      timeoutMs: 10_000,
    })
    const result = await run.result<HeapResult>()
    assert.equal((await run.exited).code, 0)

    const { meta, rule } = result
    assert.ok(meta !== null, `no heap capture within the deadline (rule: ${JSON.stringify(rule)})`)
    assert.equal(meta.kind, 'heapsnapshot')
    assert.equal(meta.status, 'completed')
    assert.equal(meta.trigger.type, 'heap')
    assertHeapReason(meta.trigger.reason)
    assert.deepEqual(meta.requested, { durationMs: 0, mode: 'instant' })
    assert.equal(rule.fired, 1)

    const body = await readFile(join(sink, meta.fileName), 'utf8')
    assert.equal(Buffer.byteLength(body), meta.bytes)
    const snapshot = JSON.parse(body) as { snapshot: { node_count: number; edge_count: number } }
    assert.ok(snapshot.snapshot.node_count > 0, `node_count ${snapshot.snapshot.node_count}`)
    assert.ok(snapshot.snapshot.edge_count > 0)
  })
})
