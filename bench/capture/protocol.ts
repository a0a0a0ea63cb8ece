/**
 * What bench/benchmarks/capture-cost.ts and its child process, bench/capture/subject.ts, tell each other. The
 * benchmark passes a role and its plan on the command line; the child answers on stdout in JSON lines
 * (`SubjectLine`): progress lines as it goes, then one result line whose outcome depends on the role.
 */

export const ROLES = ['cpu', 'rss', 'heapsnapshot'] as const
export type Role = (typeof ROLES)[number]

/** Paced HTTP load on the role's own server. */
export interface LoadPlan {
  /** Requests per second, paced: arrivals keep the rate whatever the latency. */
  ratePerSec: number
  /** Work before anything is measured (JIT, pools, heap growth). */
  warmupMs: number
}

export interface CpuPlan extends LoadPlan {
  dir: string
  /** Measured rounds of each start latency (CPU, heap sampling), after one cold start of each. */
  startRounds: number
  /** How long each start-latency capture runs before it is stopped. */
  startHoldMs: number
  /** Rounds of the long CPU capture whose stop → stored is the figure. */
  stopRounds: number
  stopCaptureMs: number
  /** Sampling intervals whose profile bytes per second are measured, one capture each. */
  intervalsUs: number[]
  intervalCaptureMs: number
}

export interface RssPlan extends LoadPlan {
  dir: string
  /** false: the twin that does the same work over the same stretches without capturing. */
  capture: boolean
  /** The stretch before the capture. */
  beforeMs: number
  /** The capture's length; the stretch lasts until it is stored. */
  captureMs: number
  sampleEveryMs: number
}

export interface SnapshotPlan {
  dir: string
  heapMb: number
}

export interface LoadStats {
  /** Completed responses per second over the role's whole run. */
  ratePerSec: number
  /** CPU time of the whole process (all threads) over wall time, while under load. */
  cpuShare: number
  errors: number
  /** Arrivals dropped at the in-flight cap: only after the event loop was held up (a capture's stop). */
  skipped: number
}

export interface StopSample {
  stopToStoredMs: number
  /** handle.stop() → the profiler stopped (the capture's `endedAt`, 1 ms resolution): part of the figure. */
  profilerStopMs: number
  /** The longest the event loop went without running a 1 ms timer between stop() and stored. */
  longestGapMs: number
  bytes: number
  fileBytes: number
  durationMs: number
  samples: number
  effectiveIntervalUs: number | undefined
}

export interface IntervalSample extends StopSample {
  intervalUs: number
}

export interface CpuOutcome {
  role: 'cpu'
  coldStartMs: { cpu: number; heap: number }
  startMs: { cpu: number[]; heap: number[] }
  stops: StopSample[]
  intervals: IntervalSample[]
  load: LoadStats
}

export interface RssOutcome {
  role: 'rss'
  /** Peak RSS over the stretch before the capture. */
  beforePeakMb: number
  /** Peak RSS over the capture's stretch, up to the capture stored (the twin: the same length of time). */
  duringPeakMb: number
  /** The same, up to the stop() call: while the profiler was recording. The twin: `duringPeakMb`. */
  recordingPeakMb: number
  /** Whether the peaks include VmHWM, reset at the start of each stretch (Linux), besides the samples. */
  highWaterMark: boolean
  /** Undefined for the twin. */
  capture: StopSample | undefined
  load: LoadStats
}

/** A heap snapshot taken and stored. */
export interface SnapshotMeasured {
  /** The longest gap between 1 ms timer ticks from start() to stored. */
  pauseMs: number
  /** controller.start() called → the snapshot stored (handle.done). */
  storedMs: number
  bytes: number
  fileBytes: number
  rssBeforeMb: number
  peakRssMb: number
  /** Whether the peak is VmHWM reset just before the snapshot (Linux), rather than the RSS after it. */
  highWaterMark: boolean
}

/** `refused`: the controller's reason, when it declined the snapshot for want of memory. */
export type SnapshotOutcome = { role: 'heapsnapshot'; heapUsedMb: number; cachedOrders: number } & (
  { refused: string } | SnapshotMeasured
)

export type Outcome = CpuOutcome | RssOutcome | SnapshotOutcome

export type SubjectLine = { event: 'progress'; message: string } | { event: 'result'; outcome: Outcome }
