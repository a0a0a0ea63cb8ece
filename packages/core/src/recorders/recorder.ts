import type { CaptureSampling } from '../types.js'

/** A finished recording, ready for the sink. */
export interface Recording {
  /** The body in memory, or a spooled file the controller streams to the sink and then removes. */
  body: { buffer: Buffer } | { spoolPath: string }
  bytes: number
  sha256: string
  sampling?: CaptureSampling
}

/** A profiler that is running. Exactly one of `finish()` or `discard()` is called, once. */
export interface Recorder {
  /** Stops recording and returns what was recorded. */
  finish(): Promise<Recording>
  /** Stops recording and throws the result away (used when a start fails halfway or on shutdown errors). */
  discard(): void
}
