/** What `bench/run.ts` hands every benchmark. */
export interface BenchOptions {
  /** `--quick`: fewer iterations and rounds, so that the whole run takes at most two minutes. */
  quick: boolean
  /** Progress, printed as it happens (not stored). */
  log(line: string): void
}

/** A figure's target: at most `max`, or at least `min`, in the figure's unit. */
export type BenchTarget = { max: number } | { min: number }

/** One figure. `value` is the median over the rounds; `spread` gives the extremes. */
export interface BenchResult {
  /** Stable across runs, for comparing results files: `latency-record.histogram`. */
  id: string
  label: string
  value: number
  unit: string
  target?: BenchTarget
  note?: string
  /** The fastest and the slowest round, and how many rounds `value` is the median of. */
  spread?: { min: number; max: number; rounds: number }
}

/** A file in `bench/benchmarks/`. */
export interface Benchmark {
  name: string
  run(options: BenchOptions): Promise<BenchResult[]>
}

/** What `bench/run.ts` writes to `bench/results/<timestamp>.json`. */
export interface BenchRun {
  startedAt: string
  durationMs: number
  mode: 'full' | 'quick'
  /** Set when only some benchmarks ran (`--only`). */
  only?: string[]
  commit: string | null
  machine: {
    cpus: number
    cpuModel: string
    totalMemoryBytes: number
    node: string
    v8: string
    platform: string
    arch: string
  }
  benchmarks: { name: string; durationMs: number; results: BenchResult[] }[]
}
