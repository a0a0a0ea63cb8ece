import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import express from 'express'
import { LocalDiskSink, type CaptureHandle, type StartCaptureRequest } from '@tripwire/core'
import { tripwire } from '@tripwire/express'
import { median, round, summarize } from '../stats.js'
import type { BenchOptions, BenchResult } from '../types.js'

export const name = 'slo-detection'

const ROUTE = 'GET /work'
const FAST_MS = 5
const SLOW_MS = 120
const QUANTILE = 0.99
const THRESHOLD_MS = 50
const WINDOW_MS = 10_000
const MIN_SAMPLES = 20
const CAPTURE_MS = 200
const INTERVALS_MS = [250, 1000]
// Arrivals are paced, as a service's traffic is: slowness does not slow the arrivals down, as it would in a
// closed loop. In flight: ~1 while fast, ~12 while slow; the cap only bounds the load generator.
const RATE_PER_S = 100
const MAX_IN_FLIGHT = 24
// Bounds: a round gives up this long after the flip, and a discarded round is retried at most this often
const DETECTION_TIMEOUT_MS = 10_000
const MAX_RETRIES = 3

interface Round {
  intervalMs: number
  /** Flip → the capture's `startedAt` (wall clock, 1 ms resolution): the figure. */
  detectionMs: number
  /** Flip → the slow response whose recording put the p99 over the threshold (estimated, see below). */
  crossedMs: number | undefined
  /** Flip → the automatic trigger called controller.start(). */
  calledMs: number
  /** controller.start() called → the profiler running (the handle resolved). */
  runningMs: number
  samples: number
  slowNeeded: number
  skipped: number
  errors: number
}

interface Attempt {
  calledAt: number
  input: StartCaptureRequest | undefined
  handle?: CaptureHandle
  runningAt?: number
  error?: unknown
}

/** Paced load on GET /work: RATE_PER_S requests/s, at most MAX_IN_FLIGHT at once (the rest are skipped). */
class PacedLoad {
  inFlight = 0
  /** When each request was skipped for want of a free slot (there should be none before the capture). */
  readonly skippedAt: number[] = []
  errors = 0
  private stopped = false
  private timer: NodeJS.Timeout | undefined
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT })

  constructor(private readonly port: number) {}

  start(): void {
    const startedAt = performance.now()
    let issued = 0
    const tick = (): void => {
      if (this.stopped) return
      const due = Math.floor(((performance.now() - startedAt) * RATE_PER_S) / 1000)
      for (; issued < due; issued++) {
        if (this.inFlight < MAX_IN_FLIGHT) this.send()
        else this.skippedAt.push(performance.now())
      }
      this.timer = setTimeout(tick, 2)
    }
    tick()
  }

  /** Stops sending, waits (at most 2 s) for the requests in flight, and closes the sockets. */
  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    const deadline = performance.now() + 2000
    while (this.inFlight > 0 && performance.now() < deadline) await sleep(10)
    this.agent.destroy()
  }

  private send(): void {
    this.inFlight++
    let settled = false
    const done = (): void => {
      if (settled) return
      settled = true
      this.inFlight--
    }
    const request = http.get(
      { host: '127.0.0.1', port: this.port, path: '/work', agent: this.agent },
      (res) => {
        res.resume()
        res.once('end', done)
        res.once('error', done)
      },
    )
    request.once('error', () => {
      this.errors++
      done()
    })
  }
}

/** An Express app with Tripwire and one SLO rule on GET /work, which answers in FAST_MS until flipped. */
async function startApp(intervalMs: number, dir: string) {
  const state = { slow: false }
  // When each slow response finished, server side: just after the middleware recorded its latency
  const slowFinished: number[] = []
  const app = express()
  const middleware = tripwire({
    service: 'bench-slo-detection',
    sink: new LocalDiskSink({ dir }),
    slo: [
      {
        route: ROUTE,
        quantile: QUANTILE,
        thresholdMs: THRESHOLD_MS,
        windowMs: WINDOW_MS,
        minSamples: MIN_SAMPLES,
        capture: { durationMs: CAPTURE_MS },
      },
    ],
    triggers: { evaluateEveryMs: intervalMs },
    limits: { cooldownMs: 0 },
  })
  app.use(middleware)
  app.get('/work', (_req, res) => {
    const slow = state.slow
    if (slow) res.once('finish', () => slowFinished.push(performance.now()))
    // A timer, not CPU: the server keeps up, and only the latency changes
    setTimeout(() => void res.send('ok'), slow ? SLOW_MS : FAST_MS)
  })

  const controller = middleware.tripwire
  const attempts: Attempt[] = []
  const start = controller.start.bind(controller)
  controller.start = async (input?: StartCaptureRequest): Promise<CaptureHandle> => {
    const attempt: Attempt = { calledAt: performance.now(), input }
    attempts.push(attempt)
    try {
      attempt.handle = await start(input)
      attempt.runningAt = performance.now()
      return attempt.handle
    } catch (error) {
      attempt.error = error
      throw error
    }
  }

  const server = app.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    port,
    state,
    slowFinished,
    attempts,
    close: async () => {
      await Promise.all(
        attempts.flatMap((attempt) => (attempt.handle === undefined ? [] : [attempt.handle.done])),
      )
      await controller.close()
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    },
  }
}

/** The fewest slow samples that put the nearest-rank quantile among them, with `fast` samples below. */
function slowSamplesNeeded(fast: number): number {
  // The same arithmetic as LogHistogram.quantile: rank max(1, ceil(q × count))
  for (let slow = 1; slow < 100_000; slow++) {
    if (Math.max(1, Math.ceil(QUANTILE * (fast + slow))) > fast) return slow
  }
  return NaN
}

/** One round on a fresh app. Undefined when a capture fired before the flip (a cold-start outlier): retry. */
async function detectOnce(intervalMs: number, warmupMs: number): Promise<Round | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'tripwire-bench-slo-'))
  const app = await startApp(intervalMs, dir)
  const load = new PacedLoad(app.port)
  try {
    load.start()
    await sleep(warmupMs)
    if (app.attempts.length > 0) return undefined
    const flipAt = performance.now()
    const flipWall = Date.now()
    app.state.slow = true

    const deadline = flipAt + DETECTION_TIMEOUT_MS
    while (performance.now() < deadline && !app.attempts.some((a) => a.runningAt !== undefined)) {
      await sleep(5)
    }
    const attempt = app.attempts.find((a) => a.runningAt !== undefined)
    if (attempt?.handle === undefined || attempt.runningAt === undefined) {
      const refusals = app.attempts.map((a) => String(a.error)).join('; ')
      throw new Error(
        `no capture within ${DETECTION_TIMEOUT_MS} ms of the flip${refusals && ` (${refusals})`}`,
      )
    }

    // The rule saw `samples` requests in its window; those that were not slow were fast ones from before the
    // flip. The p99 went over the threshold when the slowNeeded-th slow response was recorded.
    const samples = attempt.input?.slo?.samples ?? NaN
    const slowSeen = app.slowFinished.filter((at) => at <= attempt.calledAt).length
    const slowNeeded = slowSamplesNeeded(samples - slowSeen)
    const crossedAt = app.slowFinished[slowNeeded - 1]
    return {
      intervalMs,
      detectionMs: Date.parse(attempt.handle.meta.startedAt) - flipWall,
      crossedMs: crossedAt === undefined ? undefined : crossedAt - flipAt,
      calledMs: attempt.calledAt - flipAt,
      runningMs: attempt.runningAt - attempt.calledAt,
      samples,
      slowNeeded,
      skipped: load.skippedAt.filter((at) => at <= attempt.calledAt).length,
      errors: load.errors,
    }
  } finally {
    await load.stop()
    await app.close()
    await rm(dir, { recursive: true, force: true })
  }
}

/** Compiles and warms Express, the middleware and the load generator before the first measured round. */
async function prewarm(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tripwire-bench-slo-'))
  const app = await startApp(60_000, dir)
  const load = new PacedLoad(app.port)
  try {
    load.start()
    await sleep(1500)
  } finally {
    await load.stop()
    await app.close()
    await rm(dir, { recursive: true, force: true })
  }
}

export async function run(options: BenchOptions): Promise<BenchResult[]> {
  const rounds = options.quick ? 2 : 5
  // Full: the window holds ~700 fast samples at the flip, as in a service that has been up a while; the
  // detection time grows only with ceil(fast / 99) / rate, ~10 ms per 100 more fast samples at 100 req/s
  const warmupMs = options.quick ? 2000 : 7000
  options.log(
    `${rounds} rounds per interval, warm-up ${warmupMs / 1000} s at ${RATE_PER_S} req/s, ` +
      `then ${FAST_MS} → ${SLOW_MS} ms`,
  )
  await prewarm()

  const byInterval = new Map<number, Round[]>(INTERVALS_MS.map((ms) => [ms, []]))
  let discarded = 0
  for (let r = 0; r < rounds; r++) {
    for (const intervalMs of INTERVALS_MS) {
      // Where the flip falls between two evaluations, spread evenly over the rounds: the timer starts with the
      // controller, a few ms before the load
      const phaseMs = ((r + 0.5) / rounds) * intervalMs
      let round: Round | undefined
      for (let attempt = 0; round === undefined && attempt <= MAX_RETRIES; attempt++) {
        round = await detectOnce(intervalMs, warmupMs + phaseMs)
        if (round === undefined) {
          discarded++
          options.log(`every ${intervalMs} ms: a capture fired before the flip; round discarded`)
        }
      }
      if (round === undefined) throw new Error('captures kept firing before the flip')
      byInterval.get(intervalMs)!.push(round)
      options.log(
        `every ${intervalMs} ms, round ${r + 1}/${rounds}: ${round.detectionMs} ms ` +
          `(p99 over at ${fmt(round.crossedMs)}, start() at ${fmt(round.calledMs)}, ` +
          `running ${fmt(round.runningMs)} later; ${round.slowNeeded} slow of ${round.samples} samples)`,
      )
    }
  }

  const results: BenchResult[] = []
  for (const [intervalMs, list] of byInterval) {
    const { value, min, max } = summarize(list.map((r) => r.detectionMs))
    const crossed = median(list.flatMap((r) => (r.crossedMs === undefined ? [] : [r.crossedMs])))
    const waited = median(list.flatMap((r) => (r.crossedMs === undefined ? [] : [r.calledMs - r.crossedMs])))
    const skipped = list.reduce((sum, r) => sum + r.skipped, 0)
    const errors = list.reduce((sum, r) => sum + r.errors, 0)
    results.push({
      id: `slo-detection.every-${intervalMs}ms`,
      label: `SLO detection, evaluateEveryMs ${intervalMs}: slowness onset → capture startedAt`,
      value: round(value),
      unit: 'ms',
      note:
        `medians: p99 over ${THRESHOLD_MS} ms ${fmt(crossed)} after the onset ` +
        `(${median(list.map((r) => r.slowNeeded))} slow of ~${median(list.map((r) => r.samples))} samples), ` +
        `then ${fmt(waited)} until the evaluation; ` +
        `${RATE_PER_S} req/s paced, warm-up ${warmupMs / 1000} s` +
        (skipped + errors > 0 ? `; before detection ${skipped} requests skipped, ${errors} failed` : ''),
      spread: { min: round(min), max: round(max), rounds: list.length },
    })
  }
  const all = [...byInterval.values()].flat()
  const running = summarize(all.map((r) => r.runningMs))
  results.push({
    id: 'slo-detection.profiler-start',
    label: 'controller.start() → CPU profiler running (after startedAt)',
    value: round(running.value),
    unit: 'ms',
    note:
      `every round of both intervals; startedAt is taken as start() begins` +
      (discarded > 0 ? `; ${discarded} rounds discarded (fired before the onset)` : ''),
    spread: { min: round(running.min), max: round(running.max), rounds: all.length },
  })
  return results
}

function fmt(ms: number | undefined): string {
  return ms === undefined || Number.isNaN(ms) ? '?' : `${Math.round(ms)} ms`
}
