/**
 * Resident memory as the `rss` and `heapsnapshot` roles measure it: RSS samples, and on Linux the kernel's
 * high-water mark (VmHWM), which also catches a peak that falls between two samples.
 */
import { readFileSync, writeFileSync } from 'node:fs'

export const MB = 1024 * 1024

/** Resets the peak resident set size (Linux ≥ 4.0); false where that is not possible. */
export function resetHighWaterMark(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5')
    return true
  } catch {
    return false
  }
}

/** VmHWM in bytes; undefined off Linux. Read synchronously, so that it can be taken at an exact instant. */
export function highWaterMark(): number | undefined {
  try {
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]
    return kb === undefined ? undefined : Number(kb) * 1024
  } catch {
    return undefined
  }
}

export interface RssPeak {
  /** The larger of the samples' maximum and VmHWM (when it could be reset at the start). */
  peak: number
  highWaterMark: boolean
}

/** Samples RSS on a timer until ended, and resets VmHWM at its start where it can, to catch what falls between. */
export class RssWatch {
  private sampledPeak = 0
  private readonly timer: NodeJS.Timeout
  private readonly resetOk: boolean

  constructor(everyMs: number) {
    this.resetOk = resetHighWaterMark()
    this.sample()
    this.timer = setInterval(() => this.sample(), everyMs)
  }

  private sample(): void {
    this.sampledPeak = Math.max(this.sampledPeak, process.memoryUsage.rss())
  }

  /** The peak so far. */
  peak(): RssPeak {
    this.sample()
    const hwm = this.resetOk ? highWaterMark() : undefined
    return {
      peak: Math.max(this.sampledPeak, hwm ?? 0),
      highWaterMark: hwm !== undefined,
    }
  }

  end(): RssPeak {
    clearInterval(this.timer)
    return this.peak()
  }
}
