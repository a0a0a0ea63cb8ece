import { createHash } from 'node:crypto'
import type { CaptureSampling } from '../types.js'

/** A finished recording, ready for the sink. */
export interface Recording {
  /** The body in memory, or a spooled file the controller streams to the sink and then removes. */
  body: { buffer: Buffer } | { spoolPath: string }
  bytes: number
  sha256: string
  sampling?: CaptureSampling
  /**
   * The profile object the body was serialised from, for the source-map pass: parsing the body again would
   * cost as much as the serialising did, and as much memory again.
   */
  profile?: unknown
}

/** A profiler that is running. Exactly one of `finish()` or `discard()` is called, once. */
export interface Recorder {
  /** Stops recording and returns what was recorded. */
  finish(): Promise<Recording>
  /** Stops recording and throws the result away (used when a start fails halfway or on shutdown errors). */
  discard(): void
}

/** A profile that arrived as a JS object (CPU and heap sampling profiles are small): serialised once, hashed. */
export function jsonRecording(profile: unknown, sampling: CaptureSampling): Recording {
  const buffer = Buffer.from(JSON.stringify(profile))
  return {
    body: { buffer },
    bytes: buffer.length,
    sha256: createHash('sha256').update(buffer).digest('hex'),
    sampling,
    profile,
  }
}
