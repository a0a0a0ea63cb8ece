import { isAbsolute, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { TraceMap } from '@jridgewell/trace-mapping'
import { loadSourceMap } from './load-source-map.js'

/** What the profile mappers need: a script URL's parsed map, or `undefined`. Never rejects. */
export interface SourceMapLookup {
  get(url: string): Promise<TraceMap | undefined>
}

export interface SourceMapCacheOptions {
  /**
   * Directories whose scripts (and map files) may be read, e.g. `[process.cwd()]`. Frames from anywhere else
   * are left unmapped: a profile names every script the process ran, and not all of them are ours to read.
   */
  roots: readonly string[]
  /** Scripts remembered, with or without a map. Default 200. */
  maxEntries?: number
  /** Total size of the cached maps' JSON; parsed maps take several times that in memory. Default 128 MB. */
  maxCachedMapBytes?: number
  /** Scripts larger than this are not mapped. Default 20 MB. */
  maxScriptBytes?: number
  /** Maps larger than this are not parsed. Default 50 MB. */
  maxMapBytes?: number
}

export interface SourceMapCacheStats {
  entries: number
  /** Entries that found a map. */
  withMap: number
  cachedMapBytes: number
}

const MB = 1024 * 1024

interface Entry {
  /** Shared by concurrent lookups of one script, so each script is read and parsed once. */
  promise: Promise<TraceMap | undefined>
  map: TraceMap | undefined
  bytes: number
}

/**
 * Source maps of the scripts named in profiles, parsed once and kept in a bounded LRU. "No map" is cached too:
 * most frames (node_modules, plain JS) have none, and looking again for every capture would cost a read each.
 * Lookups never reject; every failure counts as "no map".
 */
export class SourceMapCache implements SourceMapLookup {
  private readonly roots: string[]
  private readonly maxEntries: number
  private readonly maxCachedMapBytes: number
  private readonly maxScriptBytes: number
  private readonly maxMapBytes: number
  /** Insertion order is recency order: a hit moves its entry to the end. */
  private readonly entries = new Map<string, Entry>()
  private cachedMapBytes = 0

  constructor(options: SourceMapCacheOptions) {
    this.roots = options.roots.map((root) => resolve(root))
    this.maxEntries = Math.max(1, options.maxEntries ?? 200)
    this.maxCachedMapBytes = options.maxCachedMapBytes ?? 128 * MB
    this.maxScriptBytes = options.maxScriptBytes ?? 20 * MB
    this.maxMapBytes = options.maxMapBytes ?? 50 * MB
  }

  /** The parsed map of the script at this frame URL (`file:///…` or an absolute path), if it has one. */
  get(url: string): Promise<TraceMap | undefined> {
    const path = scriptPath(url)
    if (path === undefined || !this.isAllowed(path)) return Promise.resolve(undefined)
    const cached = this.entries.get(path)
    if (cached !== undefined) {
      this.entries.delete(path)
      this.entries.set(path, cached)
      return cached.promise
    }
    const entry: Entry = { promise: Promise.resolve(undefined), map: undefined, bytes: 0 }
    entry.promise = this.load(path, entry)
    this.entries.set(path, entry)
    this.evict(entry)
    return entry.promise
  }

  stats(): SourceMapCacheStats {
    let withMap = 0
    for (const entry of this.entries.values()) if (entry.map !== undefined) withMap++
    return { entries: this.entries.size, withMap, cachedMapBytes: this.cachedMapBytes }
  }

  clear(): void {
    this.entries.clear()
    this.cachedMapBytes = 0
  }

  private async load(path: string, entry: Entry): Promise<TraceMap | undefined> {
    try {
      const loaded = await loadSourceMap(path, {
        maxScriptBytes: this.maxScriptBytes,
        maxMapBytes: this.maxMapBytes,
        allowPath: (candidate) => this.isAllowed(candidate),
      })
      if (loaded === undefined) return undefined
      entry.map = loaded.map
      // evicted while loading: the caller still gets the map, the cache does not keep it
      if (this.entries.get(path) === entry) {
        entry.bytes = loaded.bytes
        this.cachedMapBytes += loaded.bytes
        this.evict(entry)
      }
      return loaded.map
    } catch {
      return undefined
    }
  }

  /** Drops least recently used entries until both bounds hold; `keep` (the newest) stays even if alone too big. */
  private evict(keep: Entry): void {
    for (const [path, entry] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.cachedMapBytes <= this.maxCachedMapBytes) return
      if (entry === keep) continue
      this.entries.delete(path)
      this.cachedMapBytes -= entry.bytes
    }
  }

  private isAllowed(path: string): boolean {
    return this.roots.some((root) => {
      const inside = relative(root, path)
      return inside === '' || (inside !== '..' && !inside.startsWith(`..${sep}`) && !isAbsolute(inside))
    })
  }
}

/** The file a frame URL names; `undefined` for `node:`, `http(s):`, `data:`, V8's empty URLs and the like. */
function scriptPath(url: string): string | undefined {
  if (url.startsWith('file:')) {
    try {
      return fileURLToPath(url)
    } catch {
      return undefined
    }
  }
  // CommonJS frames carry a plain absolute path on some Node versions
  return isAbsolute(url) ? resolve(url) : undefined
}
