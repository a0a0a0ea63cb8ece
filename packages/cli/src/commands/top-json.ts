import {
  GC_PRESSURE_SHARE,
  MOSTLY_IDLE_SHARE,
  summarizeCpuProfile,
  summarizeHeapProfile,
  topFunctions,
  type CpuSummary,
  type HeapSummary,
  type TopFunction,
} from '@tripwire/core'
import type { LoadedProfile } from '../read-profile.js'

/**
 * `top --json`: the same numbers as the text, for scripts. `self` and `total` are ms for a CPU profile and
 * bytes for a heap profile (`unit` says which); `verdicts` are words a script can match on.
 */
export function topJson(file: string, loaded: LoadedProfile, limit: number): object {
  if (loaded.kind === 'cpu') {
    const summary = summarizeCpuProfile(loaded.profile)
    return {
      file,
      kind: 'cpu',
      unit: 'ms',
      sampledMs: summary.sampledMs,
      samples: summary.samples,
      shares: {
        javascript: Math.max(0, 1 - summary.idleShare - summary.gcShare - summary.programShare),
        idle: summary.idleShare,
        gc: summary.gcShare,
        program: summary.programShare,
      },
      verdicts: cpuVerdicts(summary),
      bySelf: topFunctions(summary, { limit }),
      byTotal: byTotal(summary, limit),
    }
  }
  const summary = summarizeHeapProfile(loaded.profile)
  return {
    file,
    kind: 'heap',
    unit: 'bytes',
    totalBytes: summary.totalBytes,
    bySelf: topFunctions(summary, { limit }),
    byTotal: byTotal(summary, limit),
  }
}

/** The verdicts core's `renderTop` prints, under the same thresholds. */
function cpuVerdicts(summary: CpuSummary): string[] {
  if (summary.sampledMs === 0) return ['no-samples']
  const verdicts: string[] = []
  if (summary.idleShare >= MOSTLY_IDLE_SHARE) verdicts.push('mostly-idle')
  if (summary.gcShare >= GC_PRESSURE_SHARE) verdicts.push('gc-pressure')
  return verdicts.length === 0 ? ['cpu-bound'] : verdicts
}

/** Core ranks by self; the same rows ranked by total are core's, fed the functions in that order. */
function byTotal(summary: CpuSummary | HeapSummary, limit: number): TopFunction[] {
  if ('sampledMs' in summary) {
    const functions = [...summary.functions].sort((a, b) => b.totalMs - a.totalMs || b.selfMs - a.selfMs)
    return topFunctions({ ...summary, functions }, { limit })
  }
  const functions = [...summary.functions].sort(
    (a, b) => b.totalBytes - a.totalBytes || b.selfBytes - a.selfBytes,
  )
  return topFunctions({ ...summary, functions }, { limit })
}
