import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { kindOfCaptureId } from '../../capture-id.js'
import { captureFileName } from '../../capture-kinds.js'
import { ErrorCodes, isTripwireError, TripwireError } from '../../errors.js'
import type { CaptureMeta, StoredCapture } from '../../types.js'
import { LocalDiskSink } from '../local-disk.js'

export interface SpoolEntry {
  meta: CaptureMeta
  /** Size of the spooled body file. */
  bytes: number
}

export interface SpoolLimits {
  dir: string
  maxBytes: number
  maxCount: number
}

/** Pages read when loading what a previous run left; LocalDiskSink caps a page at 1000. */
const LOAD_PAGE = 1000

/**
 * Captures waiting for upload, on local disk. Storage is a `LocalDiskSink` (atomic temp + fsync + rename,
 * files 0600, crash leftovers swept), so a capture in the spool is whole or absent, and a spool left by a
 * killed process is read back by `load()`. An in-memory index holds the metadata and sizes so that
 * `list`, `status` and the size bound never read the disk.
 */
export class Spool {
  readonly dir: string
  readonly #limits: SpoolLimits
  readonly #store: LocalDiskSink
  readonly #entries = new Map<string, SpoolEntry>()
  #bytes = 0

  constructor(limits: SpoolLimits, onError: (error: TripwireError) => void) {
    this.dir = limits.dir
    this.#limits = limits
    this.#store = new LocalDiskSink({
      dir: limits.dir,
      // The bound is enforced here, where dropping a capture can be counted and reported; LocalDiskSink's
      // retention would delete silently.
      retention: { maxCount: Infinity, maxBytes: Infinity, maxAgeMs: Infinity },
      onError: (error) => onError(spoolError(error)),
    })
  }

  get count(): number {
    return this.#entries.size
  }

  get bytes(): number {
    return this.#bytes
  }

  has(id: string): boolean {
    return this.#entries.has(id)
  }

  entry(id: string): SpoolEntry | undefined {
    return this.#entries.get(id)
  }

  /** Every waiting capture, oldest first. */
  entries(): SpoolEntry[] {
    return [...this.#entries.values()].sort((a, b) => (a.meta.id < b.meta.id ? -1 : 1))
  }

  /** Indexes what is on disk (a previous run's leftovers included). Adds to the index; never removes. */
  async load(): Promise<void> {
    let cursor: string | undefined
    for (;;) {
      const page = await this.#call(() =>
        this.#store.list(cursor === undefined ? { limit: LOAD_PAGE } : { limit: LOAD_PAGE, cursor }),
      )
      for (const meta of page.items) {
        if (this.#entries.has(meta.id)) continue
        const bytes = await this.#sizeOf(meta.id)
        if (bytes !== undefined) this.#index({ meta, bytes })
      }
      if (page.nextCursor === undefined) return
      cursor = page.nextCursor
    }
  }

  /** Writes a capture atomically; rejects with a coded error (nothing is spooled then). */
  async add(meta: CaptureMeta, body: Readable | Buffer): Promise<SpoolEntry> {
    await this.#call(() => this.#store.put(meta, body))
    const entry = { meta, bytes: (await this.#sizeOf(meta.id)) ?? 0 }
    this.#forgetIndex(meta.id)
    this.#index(entry)
    return entry
  }

  /** The spooled capture with an open body stream (the caller consumes or destroys it). */
  async open(id: string): Promise<StoredCapture | undefined> {
    return this.#call(() => this.#store.get(id))
  }

  /** Removes a capture from the index and the disk; true when it was indexed. */
  async remove(id: string): Promise<boolean> {
    // forgotten only once the files are gone (or failed to go): the count never runs ahead of the disk
    try {
      await this.#call(() => this.#store.delete(id))
    } catch (error) {
      this.#forgetIndex(id)
      throw error
    }
    return this.#forgetIndex(id)
  }

  /**
   * The oldest captures that must go for the spool to fit its bounds, skipping those `keep` protects (the
   * newest, the one uploading). Only chooses; the caller removes and reports them.
   */
  overflow(keep: (id: string) => boolean): SpoolEntry[] {
    const { maxBytes, maxCount } = this.#limits
    let count = this.#entries.size
    let bytes = this.#bytes
    const victims: SpoolEntry[] = []
    for (const entry of this.entries()) {
      if (count <= maxCount && bytes <= maxBytes) break
      if (keep(entry.meta.id)) continue
      victims.push(entry)
      count--
      bytes -= entry.bytes
    }
    return victims
  }

  /** Waits for the spool's background cleanup. */
  async close(): Promise<void> {
    await this.#store.close()
  }

  #index(entry: SpoolEntry): void {
    this.#entries.set(entry.meta.id, entry)
    this.#bytes += entry.bytes
  }

  #forgetIndex(id: string): boolean {
    const entry = this.#entries.get(id)
    if (entry === undefined) return false
    this.#entries.delete(id)
    this.#bytes -= entry.bytes
    return true
  }

  async #sizeOf(id: string): Promise<number | undefined> {
    const path = join(this.dir, captureFileName(id, kindOfCaptureId(id)))
    return (await stat(path).catch(() => undefined))?.size
  }

  async #call<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation()
    } catch (error) {
      throw spoolError(error)
    }
  }
}

/** LocalDiskSink's messages name LocalDiskSink: say that this is the S3 sink's spool, and keep the code. */
function spoolError(error: unknown): TripwireError {
  if (!isTripwireError(error)) {
    const detail = error instanceof Error ? error.message : String(error)
    return new TripwireError(ErrorCodes.SINK_IO, `S3Sink spool: ${detail}`, { cause: error })
  }
  if (error.message.startsWith('S3Sink spool')) return error
  return new TripwireError(error.code, `S3Sink spool: ${error.message}`, { cause: error })
}
