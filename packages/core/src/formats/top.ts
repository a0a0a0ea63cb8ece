import { ErrorCodes, TripwireError } from '../errors.js'
import { summarizeCpuProfile, type CpuSummary } from './cpu-summary.js'
import { summarizeHeapProfile, type HeapSummary } from './heap-summary.js'
import { scriptPath } from './script-path.js'
import type { CpuProfile, FunctionIdentity, HeapProfile } from './v8-profiles.js'

/** One line of `top`: ms for a CPU profile, bytes for a heap profile. */
export interface TopFunction extends FunctionIdentity {
  self: number
  total: number
  /** Shares of the profile's sampled time or bytes, 0…1. */
  selfShare: number
  totalShare: number
}

export interface TopOptions {
  /** How many functions, hottest by self first. @default 10 */
  limit?: number
}

/** At or above this idle share, the capture's latency was waiting (I/O, timers, locks), not computing. */
export const MOSTLY_IDLE_SHARE = 0.5
/** At or above this share of time in the garbage collector, allocation is worth a look. */
export const GC_PRESSURE_SHARE = 0.2

/** The hottest functions by self time (CPU) or self bytes (heap). */
export function topFunctions(
  summary: CpuSummary | HeapSummary,
  { limit = 10 }: TopOptions = {},
): TopFunction[] {
  checkLimit(limit)
  if (isCpuSummary(summary)) {
    return summary.functions.slice(0, limit).map((entry) => ({
      functionName: entry.functionName,
      url: entry.url,
      line: entry.line,
      self: entry.selfMs,
      total: entry.totalMs,
      selfShare: entry.selfShare,
      totalShare: entry.totalShare,
    }))
  }
  const { totalBytes } = summary
  return summary.functions.slice(0, limit).map((entry) => ({
    functionName: entry.functionName,
    url: entry.url,
    line: entry.line,
    self: entry.selfBytes,
    total: entry.totalBytes,
    selfShare: entry.selfShare,
    totalShare: totalBytes > 0 ? entry.totalBytes / totalBytes : 0,
  }))
}

/**
 * `top` as plain text: a table of self and total shares per function (file:line), and for CPU the shares of
 * idle, GC and `(program)` time with a verdict on what they mean.
 */
export function renderTop(input: CpuProfile | CpuSummary, kind: 'cpu', options?: TopOptions): string
export function renderTop(input: HeapProfile | HeapSummary, kind: 'heap', options?: TopOptions): string
export function renderTop(
  input: CpuProfile | CpuSummary | HeapProfile | HeapSummary,
  kind: 'cpu' | 'heap',
  options: TopOptions = {},
): string {
  if (kind === 'cpu') {
    if ('nodes' in input) return renderCpu(summarizeCpuProfile(input), options)
    if ('sampledMs' in input) return renderCpu(input, options)
    throw wrongInput('cpu', 'a .cpuprofile or a CPU summary')
  }
  if ('head' in input) return renderHeap(summarizeHeapProfile(input), options)
  if ('totalBytes' in input) return renderHeap(input, options)
  throw wrongInput('heap', 'a .heapprofile or a heap summary')
}

function renderCpu(summary: CpuSummary, options: TopOptions): string {
  const rows = topFunctions(summary, options)
  const jsShare = Math.max(0, 1 - summary.idleShare - summary.gcShare - summary.programShare)
  const lines = [
    `CPU profile: ${formatMs(summary.sampledMs)} sampled in ${summary.samples} samples`,
    `  JavaScript ${percent(jsShare)}   idle ${percent(summary.idleShare)}   ` +
      `GC ${percent(summary.gcShare)}   program ${percent(summary.programShare)}`,
    '',
    table(
      ['self %', 'total %', 'self ms', 'total ms', 'function'],
      rows.map((row) => [
        percent(row.selfShare),
        percent(row.totalShare),
        row.self.toFixed(1),
        row.total.toFixed(1),
        describe(row),
      ]),
    ),
    '',
    ...cpuVerdicts(summary, rows[0]),
  ]
  return `${lines.join('\n')}\n`
}

function cpuVerdicts(summary: CpuSummary, hottest: TopFunction | undefined): string[] {
  if (summary.sampledMs === 0) return ['no samples: the capture was too short to say where the time went']
  const verdicts: string[] = []
  if (summary.idleShare >= MOSTLY_IDLE_SHARE) {
    verdicts.push(
      `mostly idle: the time went to I/O or waiting, not CPU (${percent(summary.idleShare)} idle); ` +
        'look at what the requests wait on (database, network, locks, timers)',
    )
  }
  if (summary.gcShare >= GC_PRESSURE_SHARE) {
    verdicts.push(
      `GC pressure: ${percent(summary.gcShare)} of the time went to garbage collection; ` +
        'a heap capture shows what allocates',
    )
  }
  if (verdicts.length === 0 && hottest !== undefined) {
    verdicts.push(
      `CPU-bound: the hottest function is ${describe(hottest)}, ${percent(hottest.selfShare)} self`,
    )
  }
  return verdicts
}

function renderHeap(summary: HeapSummary, options: TopOptions): string {
  const rows = topFunctions(summary, options)
  const lines = [
    `Heap profile: ${formatBytes(summary.totalBytes)} sampled live, in ${summary.functions.length} functions`,
    '',
    table(
      ['self %', 'total %', 'self bytes', 'total bytes', 'function'],
      rows.map((row) => [
        percent(row.selfShare),
        percent(row.totalShare),
        formatBytes(row.self),
        formatBytes(row.total),
        describe(row),
      ]),
    ),
  ]
  const hottest = rows[0]
  if (hottest !== undefined) {
    lines.push('', `most bytes: ${describe(hottest)} allocated ${percent(hottest.selfShare)} of them itself`)
  }
  return `${lines.join('\n')}\n`
}

/** Columns of numbers right-aligned, the last (the function) left-aligned and unpadded. */
function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows]
  const widths = header.map((_, column) => Math.max(...all.map((row) => (row[column] ?? '').length)))
  const last = header.length - 1
  return all
    .map((row) =>
      row.map((cell, column) => (column === last ? cell : cell.padStart(widths[column] ?? 0))).join('  '),
    )
    .join('\n')
}

/** `name (file:line)`, with file URLs as paths; V8's own entries have neither file nor line. */
function describe(fn: FunctionIdentity): string {
  if (fn.url === '') return fn.functionName
  const file = scriptPath(fn.url)
  return fn.line > 0 ? `${fn.functionName} (${file}:${fn.line})` : `${fn.functionName} (${file})`
}

function isCpuSummary(summary: CpuSummary | HeapSummary): summary is CpuSummary {
  return 'sampledMs' in summary
}

function percent(share: number): string {
  return `${(share * 100).toFixed(1)} %`
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`
  return `${bytes} B`
}

function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new TripwireError(ErrorCodes.INVALID_REQUEST, `limit must be a positive integer, got ${limit}`)
  }
}

function wrongInput(kind: string, expected: string): TripwireError {
  return new TripwireError(ErrorCodes.INVALID_REQUEST, `top for ${kind} needs ${expected}`)
}
