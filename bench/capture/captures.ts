/**
 * How the roles drive Tripwire: the controller they capture with, a start timed from the call to the profiler
 * running, and a CPU capture timed from stop() to stored.
 */
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  captureFileName,
  createTripwire,
  LocalDiskSink,
  type CaptureMeta,
  type StartCaptureRequest,
  type TripwireController,
} from '@tripwire/core'
import { GapWatch } from './gap-watch.js'
import type { StopSample } from './protocol.js'

/** Captures stored in `dir`; heap snapshots (opt-in) enabled when a spool directory is given. */
export function controllerFor(dir: string, snapshotSpoolDir?: string): TripwireController {
  return createTripwire({
    service: 'bench-capture',
    sink: new LocalDiskSink({ dir }),
    // Back-to-back captures, none cut short by the cap
    limits: { maxDurationMs: 300_000, capturesPerHour: 3600, cooldownMs: 0 },
    ...(snapshotSpoolDir !== undefined && { heapSnapshot: { enabled: true, spoolDir: snapshotSpoolDir } }),
  })
}

/** Starts a capture; `ms` is how long controller.start() took to resolve: the start latency figures. */
export async function timedStart(
  controller: TripwireController,
  request: StartCaptureRequest,
): Promise<{ ms: number; stop: () => Promise<CaptureMeta> }> {
  const started = performance.now()
  const handle = await controller.start(request)
  return { ms: performance.now() - started, stop: () => handle.stop() }
}

/** A capture that was not stored would make every figure taken from it meaningless: the role fails instead. */
export function assertStored(meta: CaptureMeta): void {
  if (meta.status !== 'completed') {
    throw new Error(`capture ${meta.id} was not stored: ${meta.status} ${JSON.stringify(meta.error ?? {})}`)
  }
}

/** The size of the file the sink wrote for a capture: what it takes on disk, beside the metadata's `bytes`. */
export async function fileBytes(dir: string, meta: CaptureMeta): Promise<number> {
  return (await stat(join(dir, captureFileName(meta.id, meta.kind)))).size
}

/**
 * Runs a CPU capture for `ms` and stops it: the time from stop() to the stored metadata, and what was stored.
 * `beforeStop` runs just before stop() is called, outside the timed part.
 */
export async function cpuCapture(
  controller: TripwireController,
  dir: string,
  ms: number,
  samplingIntervalUs?: number,
  beforeStop?: () => void,
): Promise<StopSample> {
  // No durationMs: the capture runs until stop(), so the figure starts at a known instant
  const { stop } = await timedStart(controller, {
    kind: 'cpu',
    ...(samplingIntervalUs !== undefined && { samplingIntervalUs }),
  })
  await sleep(ms)
  beforeStop?.()
  const gaps = new GapWatch()
  const stopCalledAt = Date.now()
  const stopping = performance.now()
  const meta = await stop()
  const stopToStoredMs = performance.now() - stopping
  const longestGapMs = gaps.end()
  assertStored(meta)
  return {
    stopToStoredMs,
    profilerStopMs: Date.parse(meta.endedAt ?? '') - stopCalledAt,
    longestGapMs,
    bytes: meta.bytes ?? 0,
    fileBytes: await fileBytes(dir, meta),
    durationMs: meta.durationMs ?? ms,
    samples: meta.sampling?.samples ?? 0,
    effectiveIntervalUs: meta.sampling?.effectiveIntervalUs,
  }
}
