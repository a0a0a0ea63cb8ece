import type { BenchResult, BenchTarget } from './types.js'

/** The median (the mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** Median, min and max of the rounds. */
export function summarize(values: readonly number[]): { value: number; min: number; max: number } {
  return { value: median(values), min: Math.min(...values), max: Math.max(...values) }
}

/** Rounds a figure for display: three significant digits, no more than two decimals. */
export function round(value: number): number {
  if (!Number.isFinite(value)) return value
  const digits = Math.max(0, Math.min(2, 2 - Math.floor(Math.log10(Math.abs(value) || 1))))
  return Number(value.toFixed(digits))
}

export function formatTarget(target: BenchTarget | undefined, unit: string): string {
  if (target === undefined) return ''
  return 'max' in target ? `≤ ${target.max} ${unit}` : `≥ ${target.min} ${unit}`
}

/** Whether the figure meets its target; undefined without a target. */
export function meetsTarget(result: BenchResult): boolean | undefined {
  const { target, value } = result
  if (target === undefined) return undefined
  return 'max' in target ? value <= target.max : value >= target.min
}
