/**
 * The CPU sampling interval a capture gets when none was asked for.
 *
 * A flame graph's shares settle once it holds a few thousand samples, whatever the rate they came at; what the
 * rate decides is the cost while capturing. Measured (bench/README.md), on a CPU-bound handler: 100 µs costs
 * 21–38 % (two full runs) of throughput, 1 ms 5–8 %, 10 ms 0–2 %. So a window gets the longest interval that still yields
 * about DEFAULT_WINDOW_SAMPLES samples, between 1 ms and 10 ms (Go's pprof samples at 10 ms): a 30 s window
 * samples every 10 ms, a 10 s one every 3.3 ms, 3 s or less every 1 ms. Captures without a planned length
 * (one request, or until stopped) are usually short, and get 1 ms.
 */
export const DEFAULT_WINDOW_SAMPLES = 3000
export const DEFAULT_CPU_INTERVAL_RANGE_US = { min: 1000, max: 10_000 } as const

/** `durationMs` is the planned length of a window; undefined for captures that run until stopped. */
export function defaultCpuIntervalUs(durationMs: number | undefined): number {
  const { min, max } = DEFAULT_CPU_INTERVAL_RANGE_US
  if (durationMs === undefined) return min
  // whole hundreds of µs: the figure is shown to people, and V8 cannot keep finer time anyway
  const spaced = Math.round((durationMs * 1000) / DEFAULT_WINDOW_SAMPLES / 100) * 100
  return Math.min(max, Math.max(min, spaced))
}
