import { randomBytes } from 'node:crypto'
import * as nodeFs from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { assertCaptureId, isCaptureId, kindOfCaptureId, timeOfCaptureId } from '../capture-id.js'
import { CAPTURE_KINDS, captureFileName } from '../capture-kinds.js'
import { ErrorCodes, isTripwireError, TripwireError } from '../errors.js'
import { OptionChecker } from '../option-checks.js'
import type { CaptureMeta, Sink, SinkListPage, SinkListQuery, StoredCapture } from '../types.js'
import { isNotFound, toSinkError } from './fs-errors.js'
import { checkBody, checkListQuery, describeValue } from './sink-input.js'

/** The `FileHandle` operations the sink uses (a subset of `node:fs/promises`' `FileHandle`). */
export interface LocalDiskFileHandle {
  write(buffer: Uint8Array, offset: number, length: number): Promise<{ bytesWritten: number }>
  sync(): Promise<void>
  close(): Promise<void>
  /** The stream closes the handle when it ends or is destroyed. */
  createReadStream(): Readable
}

/**
 * Every file-system call `LocalDiskSink` makes, so that tests can inject faults (ENOSPC, EACCES, …).
 * `node:fs/promises` satisfies it as is.
 */
export interface LocalDiskFileSystem {
  mkdir(path: string, options: { recursive: true; mode: number }): Promise<unknown>
  /** `wx` (create, fail if present) for temp files, `r` for reading bodies and syncing the directory. */
  open(path: string, flags: 'wx' | 'r', mode?: number): Promise<LocalDiskFileHandle>
  readFile(path: string, encoding: 'utf8'): Promise<string>
  readdir(path: string): Promise<string[]>
  rename(oldPath: string, newPath: string): Promise<void>
  unlink(path: string): Promise<void>
  stat(path: string): Promise<{ size: number; mtimeMs: number }>
}

/** How many captures `LocalDiskSink` keeps. `Infinity` turns a limit off. */
export interface LocalDiskRetention {
  /**
   * The most captures kept; the oldest beyond it are deleted.
   * @default 200
   */
  maxCount?: number
  /**
   * The most bytes of capture bodies kept; the oldest are deleted until the rest fits. The newest capture is
   * always kept, even when it alone is larger. The default matches the default `heapSnapshot.maxBytes` of
   * `createTripwire`, so that one large heap snapshot does not by itself push every older capture out.
   * @default 2147483648 (2 GiB)
   */
  maxBytes?: number
  /**
   * Captures older than this, in ms (by the start time in their id), are deleted.
   * @default 1209600000 (14 days)
   */
  maxAgeMs?: number
}

export interface LocalDiskSinkOptions {
  /**
   * Where captures are stored, as `<id>.<ext>` plus `<id>.json`. Created (mode 0700) if missing; a relative
   * path is resolved against the working directory at construction. Required: there is no default here (the
   * controller's default sink uses `./profiles`).
   */
  dir: string
  /**
   * Applied at start and after every `put`.
   * @default { maxCount: 200, maxBytes: 2147483648, maxAgeMs: 1209600000 }
   */
  retention?: LocalDiskRetention
  /**
   * The file-system boundary, for fault-injection tests.
   * @default node:fs/promises
   */
  fs?: LocalDiskFileSystem
  /**
   * Receives failures of background housekeeping (start-up cleanup, retention), which never fail a call.
   * @default ignore them
   */
  onError?: (error: TripwireError) => void
}

const DEFAULT_RETENTION: Readonly<Required<LocalDiskRetention>> = Object.freeze({
  maxCount: 200,
  maxBytes: 2 * 1024 ** 3,
  maxAgeMs: 14 * 24 * 60 * 60 * 1000,
})

const MAX_LIST_LIMIT = 1000
/** Bounds open files while reading a page of metadata (a page may hold 1000 items). */
const READ_CONCURRENCY = 32
const TEMP_PREFIX = '.tmp-'
/**
 * The names of the sink's temp files: `.tmp-<writer pid>-<capture id>-<12 hex>.(body|meta)`. Anything else that
 * starts with `.tmp-` belongs to someone else and is never touched.
 */
const TEMP_NAME = /^\.tmp-([1-9]\d{0,9})-(.+)-[0-9a-f]{12}\.(?:body|meta)$/
/**
 * How much older than this process's start a temp file with its pid must be to count as a previous
 * incarnation's: covers coarse file-system timestamps (2 s on FAT) and the imprecision of the start time.
 */
const PROCESS_START_MARGIN_MS = 5000
/**
 * Temp files and bodies without metadata younger than this are left alone unless their writer is known to be
 * gone: another process sharing the directory (cluster workers) may be in the middle of a put.
 */
const LEFTOVER_GRACE_MS = 5 * 60 * 1000

const FS_METHODS = ['mkdir', 'open', 'readFile', 'readdir', 'rename', 'unlink', 'stat'] as const
const OPTION_KEYS = ['dir', 'retention', 'fs', 'onError'] as const
const RETENTION_KEYS = ['maxCount', 'maxBytes', 'maxAgeMs'] as const

interface DirectoryScan {
  /** Ids whose metadata exists, i.e. the visible captures, newest first. */
  captures: string[]
  /** Names of body files whose metadata does not exist. */
  orphanBodies: string[]
  /** Names of this sink's temp files (see `TEMP_NAME`), of any writer. */
  temps: string[]
}

/**
 * Stores captures in a local directory. A capture becomes visible only when its metadata file is renamed
 * into place, after its body: readers never see a half-written capture.
 *
 * The constructor does no I/O; the directory is created and cleaned up on the first call.
 */
export class LocalDiskSink implements Sink {
  /** The absolute directory captures are stored in. */
  readonly dir: string
  readonly #retention: Readonly<Required<LocalDiskRetention>>
  readonly #fs: LocalDiskFileSystem
  readonly #onError: (error: TripwireError) => void
  #init: Promise<void> | undefined
  /** The tail of the housekeeping queue: sweeps run one at a time so two never delete the same files. */
  #housekeeping: Promise<void> = Promise.resolve()

  constructor(options: LocalDiskSinkOptions) {
    const checked = checkOptions(options)
    this.dir = resolve(checked.dir)
    this.#retention = checked.retention
    this.#fs = checked.fs
    this.#onError = checked.onError
  }

  /**
   * Stores a capture atomically. Takes ownership of a stream body: it is read to the end, or destroyed
   * if the put fails. Rejects with INVALID_ID / INVALID_REQUEST for bad input, SINK_DISK_FULL,
   * SINK_PERMISSION or SINK_IO for storage failures; nothing is visible after a rejection.
   */
  async put(meta: CaptureMeta, body: Readable | Buffer): Promise<void> {
    try {
      const json = serializeMeta(meta)
      checkBody('LocalDiskSink', body)
      await this.#ready()
      await this.#store(meta, json, body)
    } catch (error) {
      if (body instanceof Readable) body.destroy()
      throw error
    }
    await this.#housekeep()
  }

  /** The metadata alone. Throws INVALID_ID for a malformed id. */
  async getMeta(id: string): Promise<CaptureMeta | undefined> {
    assertCaptureId(id)
    await this.#ready()
    return this.#readMeta(id)
  }

  /** Throws INVALID_ID for a malformed id. The caller must consume or destroy the returned body. */
  async get(id: string): Promise<StoredCapture | undefined> {
    assertCaptureId(id)
    await this.#ready()
    const meta = await this.#readMeta(id)
    if (meta === undefined) return undefined
    const path = this.#bodyPath(id)
    let handle: LocalDiskFileHandle
    try {
      // Opening now, not lazily in the stream, turns a race with delete into "absent" instead of a stream error.
      handle = await this.#fs.open(path, 'r')
    } catch (error) {
      if (isNotFound(error)) return undefined
      throw toSinkError(error, `open ${path}`, this.dir)
    }
    return { meta, body: handle.createReadStream() }
  }

  async list(query: SinkListQuery): Promise<SinkListPage> {
    const { limit, cursor, kind } = checkListQuery('LocalDiskSink', query, MAX_LIST_LIMIT)
    await this.#ready()
    const ids = (await this.#scan()).captures.filter(
      (id) => (cursor === undefined || id < cursor) && (kind === undefined || kindOfCaptureId(id) === kind),
    )
    const items: CaptureMeta[] = []
    let examined = 0
    // Unreadable metadata is skipped, so a page may need more than `limit` reads to fill.
    while (items.length < limit && examined < ids.length) {
      const batch = ids.slice(examined, examined + Math.min(limit - items.length, READ_CONCURRENCY))
      examined += batch.length
      for (const meta of await Promise.all(batch.map((id) => this.#readMeta(id)))) {
        if (meta !== undefined) items.push(meta)
      }
    }
    // The cursor is the last id examined, not the last returned, so skipped files are not read again.
    const nextCursor = examined < ids.length ? ids[examined - 1] : undefined
    return nextCursor === undefined ? { items } : { items, nextCursor }
  }

  /** Throws INVALID_ID for a malformed id; true when something was removed. */
  async delete(id: string): Promise<boolean> {
    assertCaptureId(id)
    await this.#ready()
    return this.#remove(id)
  }

  /** Waits for background housekeeping to finish. The sink stays usable. */
  async close(): Promise<void> {
    await this.#init?.catch(() => {})
    await this.#housekeeping
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
    await this.#io(`create the directory ${this.dir}`, () =>
      this.#fs.mkdir(this.dir, { recursive: true, mode: 0o700 }),
    )
    await this.#housekeep()
  }

  async #store(meta: CaptureMeta, json: string, body: Readable | Buffer): Promise<void> {
    // The writer's pid in the name lets the next start tell a crashed writer's leftovers from a live one's put.
    const tag = `${TEMP_PREFIX}${process.pid}-${meta.id}-${randomBytes(6).toString('hex')}`
    const tempBody = join(this.dir, `${tag}.body`)
    const tempMeta = join(this.dir, `${tag}.meta`)
    const bodyPath = join(this.dir, captureFileName(meta.id, meta.kind))
    let bodyPlaced = false
    try {
      // Both at once: each waits on its own flush to disk, and the second need not queue behind the first.
      // Both settle before anything is cleaned up, so that no write lands after its file was discarded.
      const written = await Promise.allSettled([
        this.#writeFile(tempBody, body),
        this.#writeFile(tempMeta, Buffer.from(json)),
      ])
      for (const outcome of written) if (outcome.status === 'rejected') throw outcome.reason
      await this.#io(`rename ${tempBody} to ${bodyPath}`, () => this.#fs.rename(tempBody, bodyPath))
      bodyPlaced = true
      // Metadata last: its presence is what makes the capture visible.
      await this.#io(`rename ${tempMeta} into place`, () =>
        this.#fs.rename(tempMeta, this.#metaPath(meta.id)),
      )
    } catch (error) {
      const leftovers = bodyPlaced ? [tempBody, tempMeta, bodyPath] : [tempBody, tempMeta]
      await Promise.all(leftovers.map((path) => this.#discard(path, false)))
      // Every file-system call is mapped by #io, so anything else came from the body stream.
      if (isTripwireError(error)) throw error
      throw new TripwireError(
        ErrorCodes.SINK_IO,
        `LocalDiskSink could not store capture ${meta.id}: its body stream failed ` +
          `(${error instanceof Error ? error.message : String(error)}); nothing was stored, retry the capture`,
        { cause: error },
      )
    }
    await this.#syncDirectory()
  }

  async #writeFile(path: string, data: Readable | Uint8Array): Promise<void> {
    const handle = await this.#io(`create ${path}`, () => this.#fs.open(path, 'wx', 0o600))
    try {
      if (data instanceof Readable) {
        // Awaiting each write before pulling the next chunk is the backpressure: memory holds one chunk.
        await pipeline(data, async (source: AsyncIterable<unknown>) => {
          for await (const chunk of source) await this.#writeAll(handle, path, toBytes(chunk))
        })
      } else {
        await this.#writeAll(handle, path, data)
      }
      await this.#io(`flush ${path} to disk`, () => handle.sync())
    } catch (error) {
      await handle.close().catch(() => {})
      throw error
    }
    // Some file systems (NFS) report write errors only at close, so this one is not ignored.
    await this.#io(`close ${path}`, () => handle.close())
  }

  async #writeAll(handle: LocalDiskFileHandle, path: string, bytes: Uint8Array): Promise<void> {
    let offset = 0
    while (offset < bytes.length) {
      const { bytesWritten } = await this.#io(`write ${path}`, () =>
        handle.write(bytes, offset, bytes.length - offset),
      )
      if (bytesWritten <= 0)
        throw toSinkError(new Error('the write made no progress'), `write ${path}`, this.dir)
      offset += bytesWritten
    }
  }

  /** Makes the renames durable. Some platforms (Windows) cannot open a directory, so it is best effort. */
  async #syncDirectory(): Promise<void> {
    try {
      const handle = await this.#fs.open(this.dir, 'r')
      try {
        await handle.sync()
      } finally {
        await handle.close()
      }
    } catch {
      // The capture is stored either way; only its durability across a power cut is weaker.
    }
  }

  /** Metadata that is missing, unparsable or not about `id` reads as absent: one bad file must not break a list. */
  async #readMeta(id: string): Promise<CaptureMeta | undefined> {
    const path = this.#metaPath(id)
    let text: string
    try {
      text = await this.#fs.readFile(path, 'utf8')
    } catch (error) {
      if (isNotFound(error)) return undefined
      throw toSinkError(error, `read ${path}`, this.dir)
    }
    try {
      const meta: unknown = JSON.parse(text)
      return isMetaOf(meta, id) ? meta : undefined
    } catch {
      return undefined
    }
  }

  async #remove(id: string): Promise<boolean> {
    // Metadata first: an interrupted delete leaves an invisible body (swept later), never a visible capture
    // without its body.
    const removedMeta = await this.#unlinkIfPresent(this.#metaPath(id))
    const removedBody = await this.#unlinkIfPresent(this.#bodyPath(id))
    return removedMeta || removedBody
  }

  async #unlinkIfPresent(path: string): Promise<boolean> {
    try {
      await this.#fs.unlink(path)
      return true
    } catch (error) {
      if (isNotFound(error)) return false
      throw toSinkError(error, `delete ${path}`, this.dir)
    }
  }

  /** Best-effort removal; failures go to `onError` when `report` is set. */
  async #discard(path: string, report: boolean): Promise<void> {
    try {
      await this.#unlinkIfPresent(path)
    } catch (error) {
      if (report) this.#report(error)
    }
  }

  async #scan(): Promise<DirectoryScan> {
    let names: string[]
    try {
      names = await this.#fs.readdir(this.dir)
    } catch (error) {
      if (isNotFound(error)) return { captures: [], orphanBodies: [], temps: [] }
      throw toSinkError(error, `list ${this.dir}`, this.dir)
    }
    const withMeta = new Set<string>()
    const bodies = new Map<string, string>()
    const temps: string[] = []
    for (const name of names) {
      if (name.startsWith(TEMP_PREFIX)) {
        if (isOwnTempName(name)) temps.push(name)
        continue
      }
      const dot = name.indexOf('.')
      const id = name.slice(0, dot)
      // Files that are not ours are never touched, whatever else lives in the directory.
      if (dot < 0 || !isCaptureId(id)) continue
      const extension = name.slice(dot + 1)
      if (extension === 'json') withMeta.add(id)
      else if (extension === CAPTURE_KINDS[kindOfCaptureId(id)].extension) bodies.set(id, name)
    }
    return {
      captures: [...withMeta].sort(newestFirst),
      orphanBodies: [...bodies].filter(([id]) => !withMeta.has(id)).map(([, name]) => name),
      temps,
    }
  }

  /** Queues a sweep after any already queued. Never rejects: housekeeping must not fail a put. */
  #housekeep(): Promise<void> {
    this.#housekeeping = this.#housekeeping
      .then(() => this.#sweep())
      .catch((error: unknown) => this.#report(error))
    return this.#housekeeping
  }

  async #sweep(): Promise<void> {
    const scan = await this.#scan()
    const now = Date.now()
    const outlived = (mtimeMs: number) => now - mtimeMs >= LEFTOVER_GRACE_MS
    await this.#removeLeftovers(
      scan.temps,
      (name, mtimeMs) => tempWriterGone(name, mtimeMs) || outlived(mtimeMs),
    )
    await this.#removeLeftovers(scan.orphanBodies, (_, mtimeMs) => outlived(mtimeMs))
    await this.#applyRetention(scan.captures, now)
  }

  async #removeLeftovers(names: string[], stale: (name: string, mtimeMs: number) => boolean): Promise<void> {
    for (const name of names) {
      const path = join(this.dir, name)
      const stats = await this.#fs.stat(path).catch(() => undefined)
      if (stats !== undefined && stale(name, stats.mtimeMs)) await this.#discard(path, true)
    }
  }

  /** Keeps the longest run of newest captures that fits every limit; `ids` are newest first. */
  async #applyRetention(ids: string[], now: number): Promise<void> {
    const { maxCount, maxBytes, maxAgeMs } = this.#retention
    let kept = 0
    let keptBytes = 0
    let full = false
    for (const id of ids) {
      let keep = !full && kept < maxCount && now - timeOfCaptureId(id) <= maxAgeMs
      if (keep) {
        keptBytes += await this.#sizeOf(id)
        // The newest capture stays even when it alone is over maxBytes: deleting what was just stored would
        // turn a successful capture into a missing one.
        full = kept > 0 && keptBytes > maxBytes
        keep = !full
      }
      if (keep) kept++
      else await this.#remove(id).catch((error: unknown) => this.#report(error))
    }
  }

  async #sizeOf(id: string): Promise<number> {
    const stats = await this.#fs.stat(this.#bodyPath(id)).catch(() => undefined)
    return stats?.size ?? 0
  }

  async #io<T>(action: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation()
    } catch (error) {
      throw toSinkError(error, action, this.dir)
    }
  }

  #report(error: unknown): void {
    try {
      this.#onError(toSinkError(error, `clean up ${this.dir}`, this.dir))
    } catch {
      // A throwing hook must not turn housekeeping into an unhandled rejection.
    }
  }

  #metaPath(id: string): string {
    return join(this.dir, `${id}.json`)
  }

  #bodyPath(id: string): string {
    return join(this.dir, captureFileName(id, kindOfCaptureId(id)))
  }
}

function newestFirst(a: string, b: string): number {
  return a < b ? 1 : a > b ? -1 : 0
}

function isMetaOf(value: unknown, id: string): value is CaptureMeta {
  if (typeof value !== 'object' || value === null) return false
  const meta = value as Partial<CaptureMeta>
  return meta.id === id && meta.kind === kindOfCaptureId(id)
}

function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk
  if (typeof chunk === 'string') return Buffer.from(chunk)
  throw new TripwireError(
    ErrorCodes.INVALID_REQUEST,
    `LocalDiskSink.put: the body stream yielded ${describeValue(chunk)}; it must yield Buffers or strings`,
  )
}

/** Validates what `put` was given and returns the metadata as it will be stored. */
function serializeMeta(meta: CaptureMeta): string {
  if (typeof meta !== 'object' || (meta as unknown) === null) {
    throw new TripwireError(ErrorCodes.INVALID_REQUEST, 'LocalDiskSink.put needs a CaptureMeta object')
  }
  assertCaptureId(meta.id)
  const idKind = kindOfCaptureId(meta.id)
  if (meta.kind !== idKind) {
    throw new TripwireError(
      ErrorCodes.INVALID_ID,
      `capture id ${meta.id} names kind '${idKind}' but meta.kind is ${describeValue(meta.kind)}; ` +
        `create the id with createCaptureId(meta.kind)`,
    )
  }
  try {
    return `${JSON.stringify(meta, null, 2)}\n`
  } catch (error) {
    throw new TripwireError(
      ErrorCodes.INVALID_REQUEST,
      `LocalDiskSink.put: the metadata of ${meta.id} cannot be serialised as JSON`,
      { cause: error },
    )
  }
}

function checkOptions(options: unknown): {
  dir: string
  retention: Readonly<Required<LocalDiskRetention>>
  fs: LocalDiskFileSystem
  onError: (error: TripwireError) => void
} {
  const check = new OptionChecker('LocalDiskSink')
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    check.fail('dir', 'is required: new LocalDiskSink({ dir: "./profiles" })')
  }
  const raw = check.object('', options, OPTION_KEYS)
  return {
    dir: check.string('dir', raw.dir),
    retention: checkRetention(check, raw.retention),
    fs: checkFileSystem(check, raw.fs),
    onError: checkOnError(check, raw.onError),
  }
}

function checkRetention(check: OptionChecker, value: unknown): Readonly<Required<LocalDiskRetention>> {
  if (value === undefined) return DEFAULT_RETENTION
  const retention = check.object('retention', value, RETENTION_KEYS)
  // Infinity turns a limit off; OptionChecker accepts finite numbers only, so it is let through here.
  const limit = (name: keyof LocalDiskRetention, integer: boolean): number => {
    const path = `retention.${name}`
    const item = retention[name]
    if (item === Infinity) return Infinity
    const fallback = DEFAULT_RETENTION[name]
    return integer
      ? check.integer(path, item, fallback, 1, Infinity)
      : check.number(path, item, fallback, 1, Infinity)
  }
  return {
    maxCount: limit('maxCount', true),
    maxBytes: limit('maxBytes', true),
    maxAgeMs: limit('maxAgeMs', false),
  }
}

function checkFileSystem(check: OptionChecker, fs: unknown): LocalDiskFileSystem {
  if (fs === undefined) return nodeFs
  if (typeof fs !== 'object' || fs === null) {
    check.fail('fs', `must be an object with the functions of node:fs/promises, got ${typeof fs}`)
  }
  const methods = fs as Record<string, unknown>
  const missing = FS_METHODS.filter((name) => typeof methods[name] !== 'function')
  if (missing.length > 0) check.fail('fs', `must also have ${missing.join(', ')}()`)
  return fs as LocalDiskFileSystem
}

function checkOnError(check: OptionChecker, onError: unknown): (error: TripwireError) => void {
  if (onError === undefined) return () => {}
  if (typeof onError !== 'function') check.fail('onError', `must be a function, got ${typeof onError}`)
  return onError as (error: TripwireError) => void
}

/** A short, safe rendering of a value in a request error (not an option's: those use OptionChecker). */

function isOwnTempName(name: string): boolean {
  const match = TEMP_NAME.exec(name)
  return match !== null && isCaptureId(match[2])
}

/**
 * A temp file's writer is gone when its pid is not running, or when the pid is this process's own but the file
 * is older than this process: it is a previous incarnation's (pid 1 in a restarted container). A newer file
 * with our pid may be another sink's put in progress on the same directory.
 */
function tempWriterGone(name: string, mtimeMs: number): boolean {
  const pid = Number(TEMP_NAME.exec(name)?.[1])
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  if (pid === process.pid) {
    const startedAt = Date.now() - process.uptime() * 1000
    return mtimeMs < startedAt - PROCESS_START_MARGIN_MS
  }
  try {
    process.kill(pid, 0)
    return false
  } catch (error) {
    // EPERM: the process exists but belongs to someone else
    return (error as NodeJS.ErrnoException).code === 'ESRCH'
  }
}
