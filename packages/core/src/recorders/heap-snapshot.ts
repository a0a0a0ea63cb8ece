import { createHash, randomBytes } from 'node:crypto'
import { closeSync, openSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { ErrorCodes, TripwireError } from '../errors.js'
import { InspectorSession } from '../inspector-session.js'
import { measureMemoryHeadroom } from '../memory-headroom.js'
import { errnoCode } from '../sinks/fs-errors.js'
import type { Recorder, Recording } from './recorder.js'

export interface HeapSnapshotRecorderOptions {
  headroomFactor: number
  maxBytes: number
  spoolDir: string
}

/** A snapshot of a ~200 MB heap took 12–24 s on Node 20–24; give V8 far longer than that before giving up. */
const SNAPSHOT_TIMEOUT_MS = 10 * 60_000

/**
 * Prepares a full heap snapshot. The snapshot itself is taken in `finish()`: it stops the event loop for its
 * whole duration, and V8 needs many times the heap in memory to build it, so the headroom is checked first.
 */
export async function startHeapSnapshotRecorder(options: HeapSnapshotRecorderOptions): Promise<Recorder> {
  const { heapUsedBytes, availableBytes } = measureMemoryHeadroom()
  const neededBytes = heapUsedBytes * options.headroomFactor
  if (neededBytes > availableBytes) {
    throw new TripwireError(
      ErrorCodes.INSUFFICIENT_MEMORY,
      `heap snapshot refused: it may need ~${mib(neededBytes)} MiB (${options.headroomFactor}× the ${mib(heapUsedBytes)} MiB heap) ` +
        `but only ${mib(availableBytes)} MiB is available; take a 'heap' sampling capture instead`,
    )
  }
  const session = await InspectorSession.open()
  return {
    async finish(): Promise<Recording> {
      try {
        return await snapshotToSpool(session, options)
      } finally {
        session.dispose()
      }
    },
    discard: () => session.dispose(),
  }
}

/**
 * Chunks are written straight to a spool file as they arrive: joined in memory they would pass V8's ~512 MB
 * string limit. `reportProgress` stays false: on a same-thread session it crashes the process (nodejs/node#44634).
 */
async function snapshotToSpool(
  session: InspectorSession,
  options: HeapSnapshotRecorderOptions,
): Promise<Recording> {
  const spoolPath = join(
    options.spoolDir,
    `.tripwire-snapshot-${process.pid}-${randomBytes(6).toString('hex')}`,
  )
  let fd: number
  try {
    fd = openSync(spoolPath, 'wx', 0o600)
  } catch (error) {
    throw spoolError(error, `create ${spoolPath}`)
  }
  const hash = createHash('sha256')
  let bytes = 0
  let writeError: Error | undefined
  const onChunk = (message: { params: unknown }) => {
    if (writeError !== undefined) return
    const chunk = Buffer.from((message.params as { chunk: string }).chunk)
    bytes += chunk.length
    if (bytes > options.maxBytes) {
      writeError = new TripwireError(
        ErrorCodes.PROFILE_TOO_LARGE,
        `heap snapshot discarded: it grew past heapSnapshot.maxBytes (${options.maxBytes} bytes)`,
      )
      return
    }
    try {
      writeFully(fd, chunk)
      hash.update(chunk)
    } catch (error) {
      writeError = spoolError(error, `write ${spoolPath}`)
    }
  }
  session.on('HeapProfiler.addHeapSnapshotChunk', onChunk)
  try {
    // on Node 22/24 the answer comes only after the last chunk, on a later turn of the event loop
    await session.post('HeapProfiler.takeHeapSnapshot', { reportProgress: false }, SNAPSHOT_TIMEOUT_MS)
    if (writeError !== undefined) throw writeError
  } catch (error) {
    closeSync(fd)
    rmSync(spoolPath, { force: true })
    throw error
  } finally {
    session.off('HeapProfiler.addHeapSnapshotChunk', onChunk)
  }
  closeSync(fd)
  return { body: { spoolPath }, bytes, sha256: hash.digest('hex') }
}

/** writeSync may write less than asked (a nearly full disk): loop, or the spool would not match its hash. */
function writeFully(fd: number, chunk: Buffer): void {
  for (let offset = 0; offset < chunk.length;) offset += writeSync(fd, chunk, offset)
}

/** The spool is not the sink: say so, and point at the option that moves it. */
function spoolError(error: unknown, action: string): TripwireError {
  const code = errnoCode(error)
  const errorCode =
    code === 'ENOSPC' || code === 'EDQUOT'
      ? ErrorCodes.SINK_DISK_FULL
      : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
        ? ErrorCodes.SINK_PERMISSION
        : ErrorCodes.SINK_IO
  const message = error instanceof Error ? error.message : String(error)
  return new TripwireError(
    errorCode,
    `the heap snapshot spool could not ${action}: ${message}; point heapSnapshot.spoolDir at a writable disk with room`,
    { cause: error },
  )
}

function mib(bytes: number): number {
  return Math.round(bytes / 1024 / 1024)
}
