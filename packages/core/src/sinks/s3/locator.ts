import type { CaptureMeta } from '../../types.js'
import { mapLimit } from './concurrency.js'
import { captureKeys, type CaptureKeys } from './keys.js'
import type { CaptureObjectStore } from './object-store.js'

/** Ids whose service folder is remembered (from puts, lists and lookups); the oldest entries go first. */
const MAX_REMEMBERED = 10_000
/** How long the list of service folders is reused by lookups of unknown ids. */
const SERVICES_TTL_MS = 30_000
const LOOKUP_CONCURRENCY = 8

export interface LocatedCapture {
  keys: CaptureKeys
  meta: CaptureMeta
}

/**
 * Finds a capture's keys from its id alone. The id gives the day folder and the file names, but not the
 * service folder, which is remembered when known, or else found by trying each service folder of the prefix
 * (one small GET each). With the `service` option there is only one folder to try.
 */
export class CaptureLocator {
  readonly #store: CaptureObjectStore
  readonly #prefix: string
  readonly #scope: string | undefined
  readonly #segments = new Map<string, string>()
  #services: { segments: string[]; at: number } | undefined

  constructor(store: CaptureObjectStore, prefix: string, scope: string | undefined) {
    this.#store = store
    this.#prefix = prefix
    this.#scope = scope
  }

  remember(id: string, segment: string): void {
    this.#segments.delete(id)
    this.#segments.set(id, segment)
    if (this.#segments.size > MAX_REMEMBERED) {
      const oldest = this.#segments.keys().next()
      if (oldest.done !== true) this.#segments.delete(oldest.value)
    }
  }

  forget(id: string): void {
    this.#segments.delete(id)
  }

  keysOf(id: string, segment: string): CaptureKeys {
    return captureKeys(this.#prefix, segment, id)
  }

  /** The capture whose metadata is in the bucket, or undefined. */
  async locate(id: string): Promise<LocatedCapture | undefined> {
    const known = this.#scope ?? this.#segments.get(id)
    if (known !== undefined) return this.#tryFolder(id, known)
    const first = await this.#serviceSegments()
    const found = await this.#tryFolders(id, first.segments)
    if (found !== undefined || !first.cached) return found
    // The cached folder list may predate the service that stored this capture: look once more, at new folders.
    this.#services = undefined
    const added = (await this.#serviceSegments()).segments.filter(
      (segment) => !first.segments.includes(segment),
    )
    return this.#tryFolders(id, added)
  }

  async #tryFolders(id: string, segments: string[]): Promise<LocatedCapture | undefined> {
    const found = await mapLimit(segments, LOOKUP_CONCURRENCY, (segment) => this.#tryFolder(id, segment))
    return found.find((located) => located !== undefined)
  }

  async #tryFolder(id: string, segment: string): Promise<LocatedCapture | undefined> {
    const keys = captureKeys(this.#prefix, segment, id)
    const meta = await this.#store.readMeta(keys.meta, id)
    if (meta === undefined) return undefined
    this.remember(id, segment)
    return { keys, meta }
  }

  async #serviceSegments(): Promise<{ segments: string[]; cached: boolean }> {
    const now = Date.now()
    if (this.#services !== undefined && now - this.#services.at < SERVICES_TTL_MS) {
      return { segments: this.#services.segments, cached: true }
    }
    const folders = await this.#store.listFolders(this.#prefix, { spent: 0 })
    const segments = folders.map((folder) => folder.slice(this.#prefix.length, -1)).filter((s) => s !== '')
    this.#services = { segments, at: now }
    return { segments, cached: false }
  }
}
