import { timeOfCaptureId } from '../../capture-id.js'
import { ErrorCodes, TripwireError } from '../../errors.js'
import { mapLimit } from './concurrency.js'
import { parseCaptureKey } from './keys.js'
import type { CaptureObjectStore } from './object-store.js'

/** Keys examined by one retention run at most (100 list requests); the rest wait for the next run. */
export const MAX_RETENTION_KEYS = 100_000
/** A body without metadata younger than this may be an upload in progress (the metadata goes last). */
const ORPHAN_GRACE_MS = 60 * 60 * 1000
const DELETE_CONCURRENCY = 8

export interface S3RetentionReport {
  /** Captures (metadata objects) seen. */
  examined: number
  /** Captures deleted (metadata and body). */
  deleted: number
  /** Bodies deleted whose metadata was gone for over an hour (an interrupted delete or upload). */
  orphansDeleted: number
  /** False when the prefix held more than MAX_RETENTION_KEYS keys: maxCount and orphans were not applied. */
  complete: boolean
}

export interface RetentionRun {
  /** The folder retention covers: the prefix, or one service's folder. */
  scope: string
  prefix: string
  maxCount: number
  maxAgeMs: number
  now: number
  signal: AbortSignal
  /** Told about each deleted capture, to keep caches honest. */
  onDeleted: (id: string) => void
}

/**
 * Applies retention to every capture under the scope by listing it: the newest `maxCount` younger than
 * `maxAgeMs` stay. Keys are read in ascending order, so a truncated run still sees the oldest keys of the
 * services it read, which is what age retention deletes first.
 */
export async function applyS3Retention(
  store: CaptureObjectStore,
  run: RetentionRun,
): Promise<S3RetentionReport> {
  const metas = new Map<string, string>()
  const bodies = new Map<string, { key: string; lastModified: number }>()
  let listed = 0
  let complete = true
  for await (const page of store.listObjects(run.scope, undefined, run.signal)) {
    for (const { key, lastModified } of page) {
      const parsed = parseCaptureKey(run.prefix, key)
      if (parsed === undefined) continue
      if (parsed.part === 'meta') metas.set(parsed.id, key)
      else bodies.set(parsed.id, { key, lastModified: lastModified?.getTime() ?? run.now })
    }
    listed += page.length
    if (listed >= MAX_RETENTION_KEYS) {
      complete = false
      break
    }
  }

  const newestFirst = [...metas.keys()].sort((a, b) => (a < b ? 1 : -1))
  const expired = newestFirst.filter(
    (id, index) => (complete && index >= run.maxCount) || run.now - timeOfCaptureId(id) > run.maxAgeMs,
  )
  await mapLimit(expired, DELETE_CONCURRENCY, async (id) => {
    throwIfAborted(run.signal)
    // metadata first: an interrupted delete leaves an invisible body (swept as an orphan), never a listed
    // capture without its body
    await store.deleteObject(metas.get(id)!, run.signal)
    const body = bodies.get(id)
    if (body !== undefined) await store.deleteObject(body.key, run.signal)
    run.onDeleted(id)
  })

  const orphans = complete
    ? [...bodies].filter(([id, body]) => !metas.has(id) && run.now - body.lastModified > ORPHAN_GRACE_MS)
    : []
  await mapLimit(orphans, DELETE_CONCURRENCY, async ([, body]) => {
    throwIfAborted(run.signal)
    await store.deleteObject(body.key, run.signal)
  })
  return { examined: metas.size, deleted: expired.length, orphansDeleted: orphans.length, complete }
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) {
    throw new TripwireError(ErrorCodes.CLOSED, 'S3Sink retention stopped: the sink is closing')
  }
}
