import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import type {
  CpuOutcome,
  CpuPlan,
  LoadStats,
  Outcome,
  Role,
  RssOutcome,
  RssPlan,
  SnapshotOutcome,
  SnapshotPlan,
  StopSample,
  SubjectLine,
} from '../capture/protocol.js'
import { defaultCpuIntervalUs } from '@tripwire/core'
import { median, round, summarize } from '../stats.js'
import type { BenchOptions, BenchResult } from '../types.js'

export const name = 'capture-cost'

const SUBJECT = fileURLToPath(new URL('../capture/subject.ts', import.meta.url))
const STOP_TO_STORED_TARGET_MS = 50
const RSS_ADDED_TARGET_MB = 20
const DEFAULT_INTERVAL_US = 1000
// Bounds: a child's run may overrun its plan by this much before it is killed, and has this long to exit after
const CHILD_SLACK_MS = 20_000
const EXIT_WAIT_MS = 2000

interface Plan {
  /** Paced requests per second on the service, in every process that has one. */
  ratePerSec: number
  cpu: Omit<CpuPlan, 'dir' | 'ratePerSec'>
  rss: Omit<RssPlan, 'dir' | 'ratePerSec' | 'capture'>
  snapshot: Omit<SnapshotPlan, 'dir'>
}

const FULL: Plan = {
  ratePerSec: 200,
  cpu: {
    warmupMs: 1500,
    startRounds: 9,
    startHoldMs: 50,
    stopRounds: 3,
    stopCaptureMs: 10_000,
    intervalsUs: [100, 1000, 10_000],
    intervalCaptureMs: 2000,
  },
  rss: { warmupMs: 1500, beforeMs: 3000, captureMs: 30_000, sampleEveryMs: 100 },
  snapshot: { heapMb: 200 },
}

// A smoke test within 20 s: shorter captures and a smaller heap, which the labels say
const QUICK: Plan = {
  ratePerSec: 200,
  cpu: {
    warmupMs: 500,
    startRounds: 3,
    startHoldMs: 50,
    stopRounds: 1,
    stopCaptureMs: 1500,
    intervalsUs: [100, 1000, 10_000],
    intervalCaptureMs: 500,
  },
  rss: { warmupMs: 500, beforeMs: 800, captureMs: 5000, sampleEveryMs: 100 },
  snapshot: { heapMb: 50 },
}

/**
 * How long a child may take before it is killed: its plan's own waits, plus room for start-up and stores. A
 * snapshot of a 200 MB heap takes ~10 s on a 2-vCPU VM; the bound allows 250 ms per MB.
 */
function timeoutFor(role: Role, plan: Plan): number {
  const { cpu, rss, snapshot } = plan
  if (role === 'cpu') {
    const starts = (cpu.startRounds + 1) * 2 * cpu.startHoldMs
    const captures = cpu.stopRounds * cpu.stopCaptureMs + cpu.intervalsUs.length * cpu.intervalCaptureMs
    return cpu.warmupMs + starts + captures + CHILD_SLACK_MS
  }
  if (role === 'rss') return rss.warmupMs + rss.beforeMs + rss.captureMs + CHILD_SLACK_MS
  return snapshot.heapMb * 250 + CHILD_SLACK_MS
}

/**
 * Runs bench/capture/subject.ts in a process of its own until it prints its result line. Its progress lines
 * go to the log; it is killed if it overruns `timeoutMs`, and in any case once it has answered.
 */
async function runSubject(
  label: string,
  role: Role,
  plan: CpuPlan | RssPlan | SnapshotPlan,
  nodeFlags: string[],
  timeoutMs: number,
  log: (line: string) => void,
): Promise<Outcome> {
  const child = spawn(
    process.execPath,
    [...nodeFlags, '--import', 'tsx', SUBJECT, '--role', role, '--plan', JSON.stringify(plan)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const lines = createInterface({ input: child.stdout })
  let timer: NodeJS.Timeout | undefined
  try {
    return await new Promise<Outcome>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${label}: no result within ${timeoutMs / 1000} s`)),
        timeoutMs,
      )
      child.once('error', reject)
      child.once('exit', (code, signal) =>
        reject(new Error(`${label} exited (${code ?? signal}) before its result`)),
      )
      lines.on('line', (line) => {
        let parsed: SubjectLine
        try {
          parsed = JSON.parse(line) as SubjectLine
        } catch {
          log(`${label}: ${line}`)
          return
        }
        if (parsed.event === 'progress') log(`${label}: ${parsed.message}`)
        else resolve(parsed.outcome)
      })
    })
  } finally {
    clearTimeout(timer)
    lines.close()
    await ended(child)
  }
}

/** Lets a child that has answered exit by itself for a moment, then kills it; resolves once it is gone. */
async function ended(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit').catch(() => undefined)
  const exitedInTime = await Promise.race([exited.then(() => true), sleep(EXIT_WAIT_MS).then(() => false)])
  if (!exitedInTime) {
    child.kill('SIGKILL')
    await Promise.race([exited, sleep(EXIT_WAIT_MS)])
  }
}

/** A temporary directory for one child's captures, removed whatever happens. */
async function withDir<T>(use: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'tripwire-bench-capture-'))
  try {
    return await use(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

function asRole<T extends Outcome['role']>(outcome: Outcome, role: T): Extract<Outcome, { role: T }> {
  if (outcome.role !== role) throw new Error(`expected a ${role} result, got ${outcome.role}`)
  return outcome as Extract<Outcome, { role: T }>
}

const kb = (bytes: number): number => round(bytes / 1024)
const seconds = (ms: number): string => `${round(ms / 1000)} s`
const intervalName = (us: number): string => (us < 1000 ? `${us} µs` : `${us / 1000} ms`)

function spreadOf(values: number[]): Pick<BenchResult, 'value' | 'spread'> {
  const { value, min, max } = summarize(values)
  return { value: round(value), spread: { min: round(min), max: round(max), rounds: values.length } }
}

function loadNote(load: LoadStats): string {
  const trouble = load.errors + load.skipped > 0 ? `, ${load.errors} errors, ${load.skipped} skipped` : ''
  return `service under ${load.ratePerSec} req/s paced (${Math.round(load.cpuShare * 100)} % of a core)${trouble}`
}

function cpuResults(cpu: CpuOutcome, plan: Plan): BenchResult[] {
  const { load } = cpu
  const stopMs = cpu.stops.map((stop) => stop.stopToStoredMs)
  const medianOf = (pick: (stop: StopSample) => number): number => median(cpu.stops.map(pick))
  const captureSec = seconds(plan.cpu.stopCaptureMs)
  const results: BenchResult[] = [
    {
      id: 'capture-cost.cpu-start',
      label: "controller.start({ kind: 'cpu' }) → profiler running",
      unit: 'ms',
      ...spreadOf(cpu.startMs.cpu),
      note: `first start in the process ${round(cpu.coldStartMs.cpu)} ms (not counted); ${loadNote(load)}`,
    },
    {
      id: 'capture-cost.heap-start',
      label: "controller.start({ kind: 'heap' }) → heap sampling running",
      unit: 'ms',
      ...spreadOf(cpu.startMs.heap),
      note: `first start in the process ${round(cpu.coldStartMs.heap)} ms (not counted); ${loadNote(load)}`,
    },
    {
      id: 'capture-cost.cpu-stop-to-stored',
      label: `stop() → stored, ${captureSec} CPU capture (${defaultIntervalName(plan.cpu.stopCaptureMs)}) on local disk`,
      unit: 'ms',
      ...spreadOf(stopMs),
      target: { max: STOP_TO_STORED_TARGET_MS },
      note:
        `medians: profiler stopped ${round(medianOf((stop) => stop.profilerStopMs))} ms after stop(), ` +
        `event loop's longest gap ${round(medianOf((stop) => stop.longestGapMs))} ms, ` +
        `${kb(medianOf((stop) => stop.bytes))} KB stored with fsync; ${loadNote(load)}`,
    },
    {
      id: 'capture-cost.cpu-profile-size',
      label: `CPU profile file, ${captureSec} capture (${defaultIntervalName(plan.cpu.stopCaptureMs)})`,
      unit: 'KB',
      ...spreadOf(cpu.stops.map((stop) => stop.fileBytes / 1024)),
      note:
        `medians: ${Math.round(medianOf((stop) => stop.samples))} samples, effective interval ` +
        `${Math.round(medianOf((stop) => stop.effectiveIntervalUs ?? NaN))} µs`,
    },
  ]
  // The call tree fills up early in a capture and then grows slowly, so longer captures have fewer bytes per s
  const longerRate = median(cpu.stops.map((stop) => stop.fileBytes / (stop.durationMs / 1000)))
  for (const sample of cpu.intervals) {
    const perSec = sample.fileBytes / (sample.durationMs / 1000)
    const longer =
      sample.intervalUs === DEFAULT_INTERVAL_US ? `; the ${captureSec} captures: ${kb(longerRate)} KB/s` : ''
    results.push({
      id: `capture-cost.cpu-bytes-per-sec-${sample.intervalUs}us`,
      label: `CPU profile bytes per second, ${intervalName(sample.intervalUs)} interval`,
      value: kb(perSec),
      unit: 'KB/s',
      note:
        `${seconds(sample.durationMs)} capture: ${kb(sample.fileBytes)} KB, ${sample.samples} samples, ` +
        `effective interval ${sample.effectiveIntervalUs ?? '?'} µs${longer}`,
    })
  }
  return results
}

function rssResult(capturing: RssOutcome, twin: RssOutcome, plan: Plan): BenchResult {
  const capture = capturing.capture
  if (capture === undefined) throw new Error('the capturing process reported no capture')
  // Growth the twin shows over the same stretch is the workload's own (heap growth), not the capture's; and
  // comparing each process with itself cancels the difference between two processes' start-up footprints
  const twinGrowth = twin.duringPeakMb - twin.beforePeakMb
  const added = capturing.duringPeakMb - capturing.beforePeakMb - twinGrowth
  const whileRecording = capturing.recordingPeakMb - capturing.beforePeakMb - twinGrowth
  const peaks = (outcome: RssOutcome): string =>
    `${round(outcome.beforePeakMb)} → ${round(outcome.duringPeakMb)} MB`
  const source = capturing.highWaterMark && twin.highWaterMark ? 'VmHWM and 100 ms samples' : '100 ms samples'
  return {
    id: 'capture-cost.cpu-capture-rss-added',
    label: `peak RSS added during a ${seconds(plan.rss.captureMs)} CPU capture (${defaultIntervalName(plan.rss.captureMs)})`,
    value: round(added),
    unit: 'MB',
    target: { max: RSS_ADDED_TARGET_MB },
    note:
      `peak before → during (${source}): capturing ${peaks(capturing)}, twin without capture ` +
      `${peaks(twin)}; up to stop() ${round(whileRecording)} MB of it; ${kb(capture.fileBytes)} KB profile, ` +
      `stored ${round(capture.stopToStoredMs)} ms after stop(); ${loadNote(capturing.load)}`,
  }
}

function snapshotResults(snapshot: SnapshotOutcome, plan: Plan, log: (line: string) => void): BenchResult[] {
  const heap = `~${plan.snapshot.heapMb} MB heap`
  if ('refused' in snapshot) {
    log(`heap snapshot refused, so not measured: ${snapshot.refused}`)
    return []
  }
  const built = `heap used ${Math.round(snapshot.heapUsedMb)} MB (${snapshot.cachedOrders} cached orders)`
  return [
    {
      id: 'capture-cost.heapsnapshot-pause',
      label: `heap snapshot of a ${heap}: longest event-loop pause`,
      value: round(snapshot.pauseMs / 1000),
      unit: 's',
      note: `the longest gap between ticks of a 1 ms timer, start() to stored; ${built}`,
    },
    {
      id: 'capture-cost.heapsnapshot-stored',
      label: `heap snapshot of a ${heap}: start() → stored`,
      value: round(snapshot.storedMs / 1000),
      unit: 's',
      note: `streamed from the spool file to LocalDiskSink; ${built}`,
    },
    {
      id: 'capture-cost.heapsnapshot-size',
      label: `heap snapshot of a ${heap}: file size`,
      value: round(snapshot.fileBytes / 1024 / 1024),
      unit: 'MB',
      note: built,
    },
    {
      id: 'capture-cost.heapsnapshot-rss-added',
      label: `heap snapshot of a ${heap}: peak RSS added`,
      value: round(snapshot.peakRssMb - snapshot.rssBeforeMb),
      unit: 'MB',
      note:
        `peak ${round(snapshot.peakRssMb)} MB (${snapshot.highWaterMark ? 'VmHWM, reset just before' : 'RSS after'}) ` +
        `vs RSS ${round(snapshot.rssBeforeMb)} MB before the snapshot; ${built}`,
    },
  ]
}

export async function run(options: BenchOptions): Promise<BenchResult[]> {
  const plan = options.quick ? QUICK : FULL
  const log = (line: string): void => options.log(line)
  const { ratePerSec } = plan

  // One phase at a time: on two cores a second busy process stretched the snapshot's pause 2.5-fold
  const cpu = await withDir(async (dir) =>
    asRole(
      await runSubject('cpu', 'cpu', { dir, ratePerSec, ...plan.cpu }, [], timeoutFor('cpu', plan), log),
      'cpu',
    ),
  )

  // The capturing process and its twin side by side, so that both see the same stretch of time; together they
  // take about one core
  const rssRun = (capture: boolean): Promise<RssOutcome> =>
    withDir(async (dir) =>
      asRole(
        await runSubject(
          capture ? 'rss' : 'rss twin',
          'rss',
          { dir, ratePerSec, capture, ...plan.rss },
          [],
          timeoutFor('rss', plan),
          log,
        ),
        'rss',
      ),
    )
  const settled = await Promise.allSettled([rssRun(true), rssRun(false)])
  const failed = settled.find((outcome) => outcome.status === 'rejected')
  if (failed !== undefined) throw failed.reason
  const [capturing, twin] = settled.map(
    (outcome) => (outcome as PromiseFulfilledResult<RssOutcome>).value,
  ) as [RssOutcome, RssOutcome]

  const snapshot = await withDir(async (dir) =>
    asRole(
      await runSubject(
        'heapsnapshot',
        'heapsnapshot',
        { dir, ...plan.snapshot },
        // gc() clears the build's garbage first; the old space has room for the heap and then some
        ['--expose-gc', `--max-old-space-size=${Math.max(512, plan.snapshot.heapMb * 4)}`],
        timeoutFor('heapsnapshot', plan),
        log,
      ),
      'heapsnapshot',
    ),
  )

  return [...cpuResults(cpu, plan), rssResult(capturing, twin, plan), ...snapshotResults(snapshot, plan, log)]
}

/** The interval a window of this length gets by default, as a label: `default for this window: 3.3 ms`. */
function defaultIntervalName(windowMs: number): string {
  return `default for this window: ${defaultCpuIntervalUs(windowMs) / 1000} ms`
}
