import { createReadStream } from 'node:fs'
import { unlink } from 'node:fs/promises'
import type { Readable } from 'node:stream'
import { EMPTY_SHA256 } from './capture-meta.js'
import { describeError, ErrorCodes, isTripwireError, TripwireError, type ErrorCode } from './errors.js'
import type { Recording } from './recorders/recorder.js'
import type { CaptureMeta, Logger, Sink } from './types.js'

/**
 * Puts a finished recording into the sink. A spooled body is streamed from its file, and the file and its
 * stream are released whatever the sink does (a sink may reject without reading the stream).
 */
export async function putRecording(sink: Sink, meta: CaptureMeta, recording: Recording): Promise<void> {
  let stream: Readable | undefined
  try {
    if ('buffer' in recording.body) {
      await sink.put(meta, recording.body.buffer)
    } else {
      stream = createReadStream(recording.body.spoolPath)
      await sink.put(meta, stream)
    }
  } catch (error) {
    // a custom sink may reject with anything: keep Tripwire codes, call the rest a sink failure
    throw isTripwireError(error)
      ? error
      : new TripwireError(ErrorCodes.SINK_IO, `the sink could not store the capture: ${messageOf(error)}`, {
          cause: error,
        })
  } finally {
    stream?.destroy()
    await discardRecording(recording)
  }
}

/** Removes a recording's spool file, if it has one. Never rejects. */
export async function discardRecording(recording: Recording): Promise<void> {
  if ('spoolPath' in recording.body) await unlink(recording.body.spoolPath).catch(() => undefined)
}

/**
 * Turns a capture into a failed one and records it (metadata, empty body) so that whoever asked can see what
 * went wrong. Never rejects: a sink that cannot even take this is logged.
 */
export async function putFailure(
  sink: Sink,
  logger: Logger,
  meta: CaptureMeta,
  failure: unknown,
  fallbackCode: ErrorCode,
): Promise<CaptureMeta> {
  meta.status = 'failed'
  meta.bytes = 0
  meta.sha256 = EMPTY_SHA256
  delete meta.sampling
  meta.error = describeError(failure, fallbackCode)
  logger.error('tripwire: capture failed', { id: meta.id, ...meta.error })
  try {
    await sink.put(meta, Buffer.alloc(0))
  } catch (error) {
    logger.error('tripwire: the sink could not record the failed capture', {
      id: meta.id,
      error: messageOf(error),
    })
  }
  return meta
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
