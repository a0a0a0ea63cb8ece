import type { CommandIo } from './command.js'
import { formatBytes } from './units.js'

/** Redraws at most this often: a terminal flooded with escape codes slows the download it reports. */
const REDRAW_MS = 100
const DEFAULT_COLUMNS = 80

/**
 * `label [#######-------]  45%  1.2 MiB / 2.6 MiB`, fitted to `columns`; without a total, the bytes so far.
 * Pure, for tests.
 */
export function renderProgress(
  label: string,
  bytes: number,
  total: number | undefined,
  columns: number,
): string {
  if (total === undefined || total <= 0) return fit(`${label}  ${formatBytes(bytes)}`, columns)
  const share = Math.min(1, bytes / total)
  const tail = `${`${Math.floor(share * 100)}%`.padStart(4)}  ${formatBytes(bytes)} / ${formatBytes(total)}`
  const barWidth = Math.min(30, columns - label.length - tail.length - 6)
  if (barWidth < 5) return fit(`${label}  ${tail}`, columns)
  const filled = Math.round(share * barWidth)
  return `${label} [${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${tail}`
}

function fit(line: string, columns: number): string {
  return line.length < columns ? line : `${line.slice(0, Math.max(0, columns - 2))}…`
}

/**
 * A progress bar on stderr that redraws its line in place, when stderr is a terminal; otherwise silent until
 * `finish` prints one plain line, which is what a log or CI output wants.
 */
export class ProgressBar {
  private lastDraw = 0
  private drawn = false

  constructor(
    private readonly io: Pick<CommandIo, 'note' | 'interactive' | 'columns'>,
    private readonly label: string,
    private readonly total: number | undefined,
  ) {}

  update(bytes: number): void {
    if (!this.io.interactive) return
    const now = Date.now()
    if (now - this.lastDraw < REDRAW_MS) return
    this.lastDraw = now
    this.draw(bytes)
  }

  /** The final state, then a newline; `summary` is the plain line's text after the label. */
  finish(bytes: number, summary: string): void {
    if (this.io.interactive) {
      this.draw(bytes)
      this.io.note('\n')
    } else {
      this.io.note(`${this.label}: ${summary}\n`)
    }
  }

  /** Clears a drawn bar, so the error line that follows starts on a clean line. */
  abandon(): void {
    if (this.drawn) this.io.note('\r\x1b[2K')
    this.drawn = false
  }

  private draw(bytes: number): void {
    this.drawn = true
    // a pseudo-terminal without a size reports 0 columns
    const columns = this.io.columns !== undefined && this.io.columns >= 20 ? this.io.columns : DEFAULT_COLUMNS
    this.io.note(`\r\x1b[2K${renderProgress(this.label, bytes, this.total, columns)}`)
  }
}
