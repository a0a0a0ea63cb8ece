import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { S3Client } from '@aws-sdk/client-s3'
import { assertCaptureId } from '../../capture-id.js'
import { ErrorCodes, isTripwireError, TripwireError } from '../../errors.js'
import type { CaptureMeta, Sink, SinkListPage, SinkListQuery, StoredCapture } from '../../types.js'
import { walkNewestFirst } from './bucket-walk.js'
import { mapLimit } from './concurrency.js'
import { serviceFolder, serviceSegment } from './keys.js'
import { CaptureLocator } from './locator.js'
import { CaptureObjectStore } from './object-store.js'
import { checkS3SinkOptions, type ResolvedS3SinkOptions, type S3SinkOptions } from './options.js'
import { applyS3Retention, type S3RetentionReport } from './retention.js'
import { checkListQuery } from '../sink-input.js'
import { checkPutInput, MAX_S3_LIST_LIMIT } from './sink-input.js'
import { Spool } from './spool.js'
import { Uploader, type UploadFailure } from './uploader.js'

/** Retention runs after uploads at most this often (each run lists the whole prefix). */
export const RETENTION_INTERVAL_MS = 10 * 60 * 1000
/** Metadata objects read at once for one page of `list`. */
const META_READ_CONCURRENCY = 16

export interface S3SinkStatus {
  /** Captures in the spool waiting for upload (the one uploading included). */
  spooled: number
  spooledBytes: number
  /** 1 while an upload is running, else 0. */
  uploading: number
  /** Captures uploaded since this sink was created. */
  uploaded: number
  /** Captures dropped from a full spool, never uploaded, since this sink was created. */
  dropped: number
  /** The latest upload failure (code, message, time); cleared by the next successful upload. */
  lastError: UploadFailure | undefined
  /** ISO-8601 UTC: when the next attempt is due while backing off after failures. */
  nextAttemptAt: string | undefined
}

export interface S3FlushReport {
  /** Captures uploaded during the flush. */
  uploaded: number
  /** Captures still in the spool: they are uploaded at the next start. */
  remaining: number
  remainingBytes: number
  lastError: UploadFailure | undefined
}

export interface S3CheckOptions {
  /** Also write and delete a small object under the prefix (needs s3:PutObject and s3:DeleteObject). */
  write?: boolean
}

export interface S3CheckReport {
  bucket: string
  prefix: string
  /** True when the write probe ran and passed; undefined when it was not asked for. */
  writable: boolean | undefined
}

/**
 * Stores captures in an S3 bucket shared by a fleet: every instance lists and serves every instance's
 * captures. `put` writes to a local spool and resolves; uploads happen in the background with retry, so a
 * store outage never fails or slows a capture, and a spool left by a crash is uploaded at the next start.
 *
 * The constructor does no I/O. The spool is read (and uploading starts) on the first call or `start()`.
 */
export class S3Sink implements Sink {
  readonly bucket: string
  /** The normalised key prefix: empty, or ending in `/`. */
  readonly prefix: string
  /** The absolute spool directory. */
  readonly spoolDir: string
  readonly #options: ResolvedS3SinkOptions
  readonly #spool: Spool
  readonly #store: CaptureObjectStore
  readonly #locator: CaptureLocator
  readonly #uploader: Uploader
  /** The client this sink created (and so destroys on close); a given client is the caller's. */
  #ownClient: S3Client | undefined
  #init: Promise<void> | undefined
  #dropped = 0
  #retentionRun: Promise<S3RetentionReport> | undefined
  #lastRetentionAt = -Infinity
  #lifecycle = new AbortController()

  constructor(options: S3SinkOptions) {
    const resolved = checkS3SinkOptions(options)
    this.#options = resolved
    this.bucket = resolved.bucket
    this.prefix = resolved.prefix
    this.spoolDir = resolved.spool.dir
    this.#store = new CaptureObjectStore({
      bucket: resolved.bucket,
      sse: resolved.sse,
      storageClass: resolved.storageClass,
      tagging: resolved.tagging,
      client: () => this.#client(),
    })
    this.#spool = new Spool(resolved.spool, (error) => this.#report(error))
    this.#locator = new CaptureLocator(this.#store, resolved.prefix, resolved.serviceSegment)
    this.#uploader = new Uploader(
      this.#spool,
      (meta, source, signal) =>
        this.#store.putCapture(this.#keysOf(meta), meta, source.body, source.bytes, signal),
      resolved.retry,
      { uploaded: (meta) => this.#afterUpload(meta), error: (error) => this.#report(error) },
    )
  }

  /**
   * Reads the spool (a previous run's captures included) and starts uploading it. Any other call does this
   * too; call it at start-up so that a crashed run's captures do not wait for the first capture or listing.
   */
  async start(): Promise<void> {
    await this.#ready()
    this.#uploader.start()
  }

  /**
   * Spools the capture (atomic; files 0600) and resolves: the upload runs in the background. Rejects only when
   * the input is invalid (INVALID_ID, INVALID_REQUEST) or the spool cannot be written (SINK_DISK_FULL,
   * SINK_PERMISSION, SINK_IO), never because of S3. Takes ownership of a stream body.
   */
  async put(meta: CaptureMeta, body: Readable | Buffer): Promise<void> {
    try {
      checkPutInput(meta, body)
      await this.#ready()
    } catch (error) {
      if (body instanceof Readable) body.destroy()
      throw error
    }
    await this.#spool.add(meta, body)
    this.#uploader.enqueue(meta.id)
    await this.#trimSpool(meta.id)
  }

  /**
   * The capture from the spool when it is not uploaded yet, else streamed from S3. Throws INVALID_ID for a
   * malformed id, coded SINK_* errors when S3 fails. The caller must consume or destroy the body.
   */
  /** The metadata alone (spooled, or the small `.json` object): no body is opened. */
  async getMeta(id: string): Promise<CaptureMeta | undefined> {
    assertCaptureId(id)
    await this.#ready()
    const spooled = this.#spool.entry(id)
    if (spooled !== undefined && this.#inScope(spooled.meta)) return spooled.meta
    return (await this.#locator.locate(id))?.meta
  }

  async get(id: string): Promise<StoredCapture | undefined> {
    assertCaptureId(id)
    await this.#ready()
    const spooled = this.#spool.entry(id)
    if (spooled !== undefined && this.#inScope(spooled.meta)) {
      const stored = await this.#spool.open(id)
      if (stored !== undefined) return stored
      // uploaded (and removed from the spool) between the two calls: read it from S3
    }
    const located = await this.#locator.locate(id)
    if (located === undefined) return undefined
    const body = await this.#store.openBody(located.keys.body, id)
    return body === undefined ? undefined : { meta: located.meta, body }
  }

  /**
   * Every instance's captures under the prefix (or the `service` folder), newest first, merged with this
   * instance's captures still in the spool. At most 100 items a page. The work of one call is bounded (see
   * MAX_LIST_REQUESTS_PER_CALL): a call that reaches the bound returns a shorter page with a `nextCursor`.
   */
  async list(query: SinkListQuery): Promise<SinkListPage> {
    const { limit, cursor, kind } = checkListQuery('S3Sink', query, MAX_S3_LIST_LIMIT)
    await this.#ready()
    const walk = await walkNewestFirst(this.#store, {
      prefix: this.prefix,
      segment: this.#options.serviceSegment,
      cursor,
      kind,
      want: limit,
    })
    // id → where to read it: the spool's copy (already in memory) wins over a GET
    const sources = new Map<string, { meta: CaptureMeta } | { segment: string }>()
    for (const found of walk.found) sources.set(found.id, { segment: found.segment })
    for (const { meta } of this.#spool.entries()) {
      const older = cursor === undefined || meta.id < cursor
      const covered = walk.floor === undefined || meta.id >= walk.floor
      if (older && covered && (kind === undefined || meta.kind === kind) && this.#inScope(meta)) {
        sources.set(meta.id, { meta })
      }
    }
    const ids = [...sources.keys()].sort((a, b) => (a < b ? 1 : -1))
    const page = ids.slice(0, limit)
    const metas = await mapLimit(page, META_READ_CONCURRENCY, async (id) => {
      const source = sources.get(id)!
      if ('meta' in source) return source.meta
      this.#locator.remember(id, source.segment)
      return this.#store.readMeta(this.#locator.keysOf(id, source.segment).meta, id)
    })
    // Unreadable metadata is skipped; the cursor is the last id examined, so it is not read again.
    const items = metas.filter((meta): meta is CaptureMeta => meta !== undefined)
    const more = ids.length > limit || !walk.exhausted
    const nextCursor = !more ? undefined : page.length === limit ? page[limit - 1] : walk.floor
    return nextCursor === undefined ? { items } : { items, nextCursor }
  }

  /**
   * Removes the capture's body and metadata from S3 and any spooled copy (an upload in progress is aborted
   * first). Throws INVALID_ID for a malformed id; true when something was removed.
   */
  async delete(id: string): Promise<boolean> {
    assertCaptureId(id)
    await this.#ready()
    let removed = false
    const spooled = this.#spool.entry(id)
    if (spooled !== undefined && this.#inScope(spooled.meta)) {
      await this.#uploader.remove(id)
      await this.#spool.remove(id)
      // The aborted upload may have stored the body, or everything, already.
      await this.#deleteObjects(this.#keysOf(spooled.meta))
      removed = true
    }
    const located = await this.#locator.locate(id)
    if (located !== undefined) {
      await this.#deleteObjects(located.keys)
      removed = true
    }
    this.#locator.forget(id)
    return removed
  }

  /**
   * A presigned GET URL of the capture's body, valid for `presign.expiresInSec`, for the admin API to answer a
   * download with a redirect. Undefined when `presign` is off, when the capture is not in S3 (yet: it is still
   * spooled, so stream it with `get`), or when it does not exist. Throws INVALID_ID for a malformed id and
   * coded SINK_* errors when S3 fails. The URL is a bearer credential until it expires: never log it.
   */
  async presignedUrl(id: string): Promise<string | undefined> {
    assertCaptureId(id)
    const expiresInSec = this.#options.presignExpiresInSec
    if (expiresInSec === undefined) return undefined
    await this.#ready()
    if (this.#spool.has(id)) return undefined
    const located = await this.#locator.locate(id)
    if (located === undefined) return undefined
    return this.#store.presignBody(located.keys.body, located.meta, expiresInSec)
  }

  /** The `Sink` hook the admin API redirects downloads with: `presignedUrl`. */
  downloadUrl(id: string): Promise<string | undefined> {
    return this.presignedUrl(id)
  }

  /**
   * Checks that the bucket exists and the credentials may list the prefix (one ListObjectsV2), and with
   * `{ write: true }` that they may write and delete under the prefix. Rejects with SINK_PERMISSION (credentials
   * missing or refused, access denied), SINK_UNAVAILABLE (no such bucket, endpoint unreachable, wrong region),
   * INVALID_OPTIONS (no region) or SINK_IO. Uses no spool.
   */
  async check(options: S3CheckOptions = {}): Promise<S3CheckReport> {
    const write = options.write === true
    await this.#store.checkBucket(this.#scopeFolder())
    if (write) await this.#store.checkWrite(`${this.prefix}.tripwire-check-${randomBytes(6).toString('hex')}`)
    return { bucket: this.bucket, prefix: this.prefix, writable: write ? true : undefined }
  }

  /** Upload progress and health, cheap enough for every status request. */
  status(): S3SinkStatus {
    const next = this.#uploader.nextAttemptAt
    return {
      spooled: this.#spool.count,
      spooledBytes: this.#spool.bytes,
      uploading: this.#uploader.uploadingId === undefined ? 0 : 1,
      uploaded: this.#uploader.uploaded,
      dropped: this.#dropped,
      lastError: this.#uploader.lastFailure,
      nextAttemptAt: next === undefined ? undefined : new Date(next).toISOString(),
    }
  }

  /**
   * Applies `retention` now to the whole prefix (or the `service` folder); it also runs after uploads, at most
   * every RETENTION_INTERVAL_MS. Concurrent calls share one run. Without `retention` it does nothing.
   */
  async applyRetention(): Promise<S3RetentionReport> {
    const retention = this.#options.retention
    if (retention === undefined) return { examined: 0, deleted: 0, orphansDeleted: 0, complete: true }
    this.#retentionRun ??= this.#runRetention(retention).finally(() => {
      this.#retentionRun = undefined
    })
    return this.#retentionRun
  }

  /**
   * Uploads what the spool holds until it is empty or `timeoutMs` (default `closeTimeoutMs`) has passed, retrying
   * at once if a backoff wait is under way. Background uploading goes on afterwards.
   */
  async flush(timeoutMs: number = this.#options.closeTimeoutMs): Promise<S3FlushReport> {
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) {
      throw new TripwireError(ErrorCodes.INVALID_REQUEST, `S3Sink.flush: timeoutMs must be a number ≥ 0`)
    }
    const deadline = performance.now() + timeoutMs
    const before = this.#uploader.uploaded
    await this.#ready()
    this.#uploader.start()
    this.#uploader.retryNow()
    await this.#uploader.whenIdle(deadline)
    return {
      uploaded: this.#uploader.uploaded - before,
      remaining: this.#spool.count,
      remainingBytes: this.#spool.bytes,
      lastError: this.#uploader.lastFailure,
    }
  }

  /**
   * Flushes the spool for at most `timeoutMs` (default `closeTimeoutMs`), then stops background work. What is
   * still spooled stays on disk for the next start and is reported to `onError`. Never rejects. A later call
   * starts the sink again.
   */
  async close(timeoutMs?: number): Promise<void> {
    let report: S3FlushReport | undefined
    try {
      report = await this.flush(timeoutMs)
    } catch (error) {
      this.#report(error)
    }
    await this.#uploader.stop()
    this.#lifecycle.abort()
    await this.#retentionRun?.catch(() => {})
    this.#lifecycle = new AbortController()
    await this.#spool.close()
    this.#ownClient?.destroy()
    this.#ownClient = undefined
    if (report !== undefined && report.remaining > 0) {
      const last = report.lastError === undefined ? '' : ` Last upload error: ${report.lastError.message}`
      this.#report(
        new TripwireError(
          ErrorCodes.SINK_UNAVAILABLE,
          `S3Sink closed with ${report.remaining} capture(s) (${report.remainingBytes} bytes) not uploaded yet: ` +
            `they stay in ${this.spoolDir} and are uploaded at the next start.${last}`,
        ),
      )
    }
  }

  #ready(): Promise<void> {
    this.#init ??= this.#initialise().catch((error: unknown) => {
      // A transient failure (a volume not mounted yet) must not poison the sink: the next call retries.
      this.#init = undefined
      throw error
    })
    return this.#init
  }

  async #initialise(): Promise<void> {
    await this.#spool.load()
    // oldest first, as the spool lists them: a crashed run's captures go before new ones
    for (const { meta } of this.#spool.entries()) this.#uploader.enqueue(meta.id)
    const newest = this.#spool.entries().at(-1)?.meta.id
    if (newest !== undefined) await this.#trimSpool(newest)
  }

  /** Drops the oldest spooled captures beyond the spool's bounds; each drop is counted and reported. */
  async #trimSpool(keep: string): Promise<void> {
    const victims = this.#spool.overflow((id) => id === keep || id === this.#uploader.uploadingId)
    for (const { meta, bytes } of victims) {
      await this.#uploader.remove(meta.id)
      await this.#spool.remove(meta.id).catch((error: unknown) => this.#report(error))
      this.#dropped++
      const { maxCount, maxBytes } = this.#options.spool
      const failing = this.#uploader.lastFailure
      this.#report(
        new TripwireError(
          ErrorCodes.SINK_SPOOL_FULL,
          `S3Sink dropped capture ${meta.id} (${bytes} bytes) before it could be uploaded: the spool at ` +
            `${this.spoolDir} holds at most ${maxCount} captures and ${maxBytes} bytes. ` +
            (failing === undefined
              ? 'Captures arrive faster than they upload.'
              : `Uploads are failing: ${failing.message}`),
        ),
      )
    }
  }

  #afterUpload(meta: CaptureMeta): void {
    this.#locator.remember(meta.id, serviceSegment(meta.service))
    if (this.#options.retention === undefined || this.#retentionRun !== undefined) return
    if (Date.now() - this.#lastRetentionAt < RETENTION_INTERVAL_MS) return
    this.applyRetention().catch((error: unknown) => this.#report(error))
  }

  async #runRetention(retention: { maxCount: number; maxAgeMs: number }): Promise<S3RetentionReport> {
    this.#lastRetentionAt = Date.now()
    const report = await applyS3Retention(this.#store, {
      scope: this.#scopeFolder(),
      prefix: this.prefix,
      ...retention,
      now: Date.now(),
      signal: this.#lifecycle.signal,
      onDeleted: (id) => this.#locator.forget(id),
    })
    if (!report.complete && retention.maxCount !== Infinity) {
      this.#report(
        new TripwireError(
          ErrorCodes.SINK_IO,
          `S3Sink retention: ${this.#scopeFolder() || 'the bucket'} holds too many keys to count in one run, so ` +
            'retention.maxCount was not applied (maxAgeMs was). Set the service option, or use a lifecycle rule',
        ),
      )
    }
    return report
  }

  async #deleteObjects(keys: { meta: string; body: string }): Promise<void> {
    // metadata first: an interrupted delete leaves an invisible body (retention sweeps it), never a listed
    // capture without its body
    await this.#store.deleteObject(keys.meta)
    await this.#store.deleteObject(keys.body)
  }

  #keysOf(meta: CaptureMeta): { meta: string; body: string } {
    return this.#locator.keysOf(meta.id, serviceSegment(meta.service))
  }

  #inScope(meta: CaptureMeta): boolean {
    const scope = this.#options.serviceSegment
    return scope === undefined || serviceSegment(meta.service) === scope
  }

  #scopeFolder(): string {
    const scope = this.#options.serviceSegment
    return scope === undefined ? this.prefix : serviceFolder(this.prefix, scope)
  }

  #client(): S3Client {
    const source = this.#options.clientSource
    if ('client' in source) return source.client
    this.#ownClient ??= new S3Client(source.config)
    return this.#ownClient
  }

  #report(error: unknown): void {
    const coded = isTripwireError(error)
      ? error
      : new TripwireError(ErrorCodes.SINK_IO, `S3Sink: ${String(error)}`, { cause: error })
    try {
      this.#options.onError(coded)
    } catch {
      // A throwing hook must not turn background work into an unhandled rejection.
    }
  }
}
