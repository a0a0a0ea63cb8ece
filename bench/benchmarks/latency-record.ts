import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import {
  createTripwire,
  LocalDiskSink,
  LogHistogram,
  RouteLatencyTable,
  SlidingLatencyWindow,
  type TripwireController,
} from '@tripwire/core'
import { round, summarize } from '../stats.js'
import type { BenchOptions, BenchResult } from '../types.js'

export const name = 'latency-record'

const TARGET_NS = 100
// The controller's tables use 60 s in six slices (status) plus one table per SLO window length
const WINDOW = { windowMs: 60_000, subWindows: 6 }
// The clock advances 10 µs per record, i.e. 100 000 requests/s, so slices rotate as they would in a server
const CLOCK_STEP_MS = 0.01
const ROUTE_COUNT = 50

// 4096 latencies, log-normal around 20 ms (σ = 1, so from under 1 ms to over 500 ms), from a seeded generator
const VALUE_MASK = 4095
const VALUES = logNormalValues(VALUE_MASK + 1, 20, 1, 0x7269_7077)
const METHODS = Array.from({ length: ROUTE_COUNT }, (_, k) => (k % 5 === 4 ? 'POST' : 'GET'))
const PATHS = Array.from({ length: ROUTE_COUNT }, (_, k) => `/api/v1/resource${k}/:id`)

interface Clock {
  now: number
}

interface Variant {
  id: string
  label: string
  note: string
  target?: boolean
  /** Runs `n` records in a tight loop; returns something so the loop's work is observable. */
  loop(n: number): number
}

// One loop function per subject, so that each record() call site sees one receiver type and is optimized the
// way an adapter's call site is; a shared loop calling closures would add a megamorphic call to every figure.

function histogramLoop(histogram: LogHistogram, n: number): number {
  for (let i = 0; i < n; i++) histogram.record(VALUES[i & VALUE_MASK]!)
  return histogram.count
}

function windowLoop(window: SlidingLatencyWindow, clock: Clock, n: number): number {
  let now = clock.now
  for (let i = 0; i < n; i++) {
    now += CLOCK_STEP_MS
    window.record(VALUES[i & VALUE_MASK]!, now)
  }
  clock.now = now
  return now
}

function tableLoop(table: RouteLatencyTable, routes: number, clock: Clock, n: number): number {
  let now = clock.now
  let k = 0
  for (let i = 0; i < n; i++) {
    now += CLOCK_STEP_MS
    table.record(METHODS[k]!, PATHS[k], VALUES[i & VALUE_MASK]!, now)
    if (++k === routes) k = 0
  }
  clock.now = now
  return now
}

function controllerLoop(controller: TripwireController, clock: Clock, n: number): number {
  let now = clock.now
  for (let i = 0; i < n; i++) {
    now += CLOCK_STEP_MS
    controller.recordLatency('GET', '/api/v1/resource0/:id', VALUES[i & VALUE_MASK]!, now)
  }
  clock.now = now
  return now
}

function clockLoop(n: number): number {
  let sum = 0
  for (let i = 0; i < n; i++) sum += performance.now()
  return sum
}

export async function run(options: BenchOptions): Promise<BenchResult[]> {
  const rounds = options.quick ? 7 : 15
  const iterations = options.quick ? 1_000_000 : 3_000_000
  const warmups = 5
  const warmupIterations = 500_000

  const dir = await mkdtemp(join(tmpdir(), 'tripwire-bench-record-'))
  const plain = createTripwire({ service: 'bench', sink: new LocalDiskSink({ dir }) })
  // With one SLO rule on another window length the controller keeps two tables, and records into both
  const withSlo = createTripwire({
    service: 'bench',
    sink: new LocalDiskSink({ dir }),
    slo: [{ route: 'GET /nothing', thresholdMs: 50, windowMs: 10_000 }],
    triggers: { evaluateEveryMs: 60_000 },
  })
  try {
    const histogram = new LogHistogram()
    const window = new SlidingLatencyWindow(WINDOW)
    const table1 = new RouteLatencyTable({ window: WINDOW })
    const table50 = new RouteLatencyTable({ window: WINDOW })
    // Every subject gets its own clock, which starts now and only moves forward
    const clocks = Array.from({ length: 5 }, () => ({ now: performance.now() }))
    const every = `${iterations / 1e6}M records per round`
    const variants: Variant[] = [
      {
        id: 'latency-record.histogram',
        label: 'LogHistogram.record(ms)',
        note: every,
        target: true,
        loop: (n) => histogramLoop(histogram, n),
      },
      {
        id: 'latency-record.window',
        label: 'SlidingLatencyWindow.record(ms, now)',
        note: `60 s window in 6 slices; ${every}`,
        target: true,
        loop: (n) => windowLoop(window, clocks[0]!, n),
      },
      {
        id: 'latency-record.table-1',
        label: 'RouteLatencyTable.record, 1 route',
        note: `nowMs passed; ${every}`,
        target: true,
        loop: (n) => tableLoop(table1, 1, clocks[1]!, n),
      },
      {
        id: 'latency-record.table-50',
        label: 'RouteLatencyTable.record, 50 routes',
        note: `routes in turn (~1.2 MB of buckets); nowMs passed; ${every}`,
        target: true,
        loop: (n) => tableLoop(table50, ROUTE_COUNT, clocks[2]!, n),
      },
      {
        id: 'latency-record.controller',
        label: 'controller.recordLatency, no SLO rule',
        note: `one table (60 s, for status); nowMs passed; ${every}`,
        target: true,
        loop: (n) => controllerLoop(plain, clocks[3]!, n),
      },
      {
        id: 'latency-record.controller-slo',
        label: 'controller.recordLatency, one 10 s SLO rule',
        note: `two tables (60 s and 10 s), one lookup and one bucket for both; nowMs passed; ${every}`,
        target: true,
        loop: (n) => controllerLoop(withSlo, clocks[4]!, n),
      },
      {
        id: 'latency-record.performance-now',
        label: 'performance.now() (reference)',
        note: "one clock read, as Tripwire makes it (from node:perf_hooks; the global's lazy getter adds ~5 ns): twice per response on Express and Koa, once in recordLatency when nowMs is omitted",
        loop: clockLoop,
      },
    ]

    let blackhole = 0
    options.log(`warm-up: ${warmups} × ${warmupIterations.toLocaleString('en-US')} per variant`)
    for (let w = 0; w < warmups; w++) {
      for (const variant of variants) blackhole += variant.loop(warmupIterations)
    }

    const samples = variants.map((): number[] => [])
    for (let r = 0; r < rounds; r++) {
      // Interleaved, and each round starts one variant later, so drift (thermal, other load) spreads evenly
      for (let v = 0; v < variants.length; v++) {
        const index = (r + v) % variants.length
        const started = process.hrtime.bigint()
        blackhole += variants[index]!.loop(iterations)
        const elapsed = Number(process.hrtime.bigint() - started)
        samples[index]!.push(elapsed / iterations)
      }
      options.log(`round ${r + 1}/${rounds} done`)
    }
    if (Number.isNaN(blackhole)) options.log('(unreachable: keeps the loops observable)')

    return variants.map((variant, v) => {
      const { value, min, max } = summarize(samples[v]!)
      return {
        id: variant.id,
        label: variant.label,
        value: round(value),
        unit: 'ns',
        ...(variant.target === true && { target: { max: TARGET_NS } }),
        note: variant.note,
        spread: { min: round(min), max: round(max), rounds },
      }
    })
  } finally {
    await Promise.all([plain.close(), withSlo.close()])
    await rm(dir, { recursive: true, force: true })
  }
}

/** `count` values exp(N(ln median, sigma²)), by Box–Muller over mulberry32. */
function logNormalValues(count: number, medianMs: number, sigma: number, seed: number): Float64Array {
  let state = seed >>> 0
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
  const values = new Float64Array(count)
  for (let i = 0; i < count; i++) {
    const u = 1 - next()
    const normal = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next())
    values[i] = medianMs * Math.exp(sigma * normal)
  }
  return values
}
