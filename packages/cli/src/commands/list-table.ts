import type { CaptureMeta } from '@tripwire/core'
import { formatBytes, formatDuration } from '../units.js'

const COLUMNS = ['ID', 'STATUS', 'KIND', 'TRIGGER', 'ROUTE', 'BYTES', 'DURATION'] as const
/** Numbers read best right-aligned. */
const RIGHT = new Set<string>(['BYTES', 'DURATION'])

/** Captures as a table, newest first, one line each; a field a running capture lacks yet shows as `-`. */
export function captureTable(items: readonly CaptureMeta[]): string {
  const rows = items.map((meta) => [
    meta.id,
    meta.status,
    meta.kind,
    meta.trigger.type,
    meta.request === undefined ? '-' : `${meta.request.method} ${meta.request.route}`,
    meta.status === 'running' ? '-' : formatBytes(meta.bytes),
    meta.durationMs === undefined ? '-' : formatDuration(meta.durationMs),
  ])
  const all = [[...COLUMNS], ...rows].map((row) => row.map(printable))
  const widths = COLUMNS.map((_, column) => Math.max(...all.map((row) => row[column]!.length)))
  return `${all
    .map((row) =>
      row
        .map((cell, column) => {
          const width = widths[column]!
          return RIGHT.has(COLUMNS[column]!) ? cell.padStart(width) : cell.padEnd(width)
        })
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`
}

/** Metadata comes from a store others may write to: nothing in it may move the cursor or color a terminal. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?')
}
