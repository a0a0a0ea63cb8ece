import { open } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { decodedMappings, FlattenMap, type TraceMap } from '@jridgewell/trace-mapping'

export interface SourceMapLoadLimits {
  /** Larger scripts are not looked at: their map would be huge, and the comment search could read them whole. */
  maxScriptBytes: number
  /** Larger maps (files or decoded inline payloads) are not parsed: parsing runs on the main thread. */
  maxMapBytes: number
  /** Whether a map file may be read from this absolute path (the cache's allowed roots). */
  allowPath: (path: string) => boolean
}

export interface LoadedSourceMap {
  map: TraceMap
  /** Size of the map's JSON, which stands in for the parsed map's memory in the cache's budget. */
  bytes: number
}

/** Enough for the last lines of any script whose map lives in a file; inline maps make the reader look further. */
const TAIL_BYTES = 64 * 1024
/** A whole comment line, as tsc, esbuild and webpack write it (`//@` is the deprecated spelling). */
const MAPPING_COMMENT = /^[ \t]*\/\/[#@][ \t]*sourceMappingURL=[ \t]*(\S+)[ \t\r]*$/gm

/**
 * Finds and parses the source map of one script: the target of its last `sourceMappingURL` comment (an inline
 * `data:` URL or a file), else `<script>.map` beside it. Resolves `undefined` when there is none; rejects on odd
 * failures, which the caller treats the same way.
 */
export async function loadSourceMap(
  scriptPath: string,
  limits: SourceMapLoadLimits,
): Promise<LoadedSourceMap | undefined> {
  const scriptUrl = pathToFileURL(scriptPath)
  const comment = await readMappingComment(scriptPath, limits.maxScriptBytes)
  if (comment === null) return undefined

  const candidates: string[] = []
  if (comment !== undefined) {
    if (comment.startsWith('data:')) {
      const json = decodeDataUrl(comment, limits.maxMapBytes)
      // the map's sources are relative to the script itself
      return json === undefined ? undefined : parseMap(json, scriptUrl.href)
    }
    const target = safeUrl(comment, scriptUrl)
    if (target?.protocol === 'file:') candidates.push(fileURLToPath(target))
  }
  const beside = `${scriptPath}.map`
  if (!candidates.includes(beside)) candidates.push(beside)

  for (const path of candidates) {
    if (!limits.allowPath(path)) continue
    const json = await readMapFile(path, limits.maxMapBytes)
    if (json === undefined) continue
    try {
      return parseMap(json, pathToFileURL(path).href)
    } catch {
      // a broken map is as good as none: try the next candidate
    }
  }
  return undefined
}

/**
 * The URL in the script's last `sourceMappingURL` comment; `undefined` when there is no comment, `null` when
 * the script is not worth mapping (missing, not a file, over the size cap).
 */
async function readMappingComment(
  scriptPath: string,
  maxScriptBytes: number,
): Promise<string | undefined | null> {
  const handle = await open(scriptPath, 'r')
  try {
    const stats = await handle.stat()
    if (!stats.isFile() || stats.size > maxScriptBytes) return null
    const size = stats.size
    let length = Math.min(size, TAIL_BYTES)
    for (;;) {
      const buffer = Buffer.alloc(length)
      const { bytesRead } = await handle.read(buffer, 0, length, size - length)
      const text = buffer.toString('utf8', 0, bytesRead)
      const whole = length === size
      const firstBreak = text.indexOf('\n')
      // the window starts mid-line: if the last non-blank line is that partial one (an inline map longer than
      // the window), read the whole file (bounded by maxScriptBytes) rather than miss the comment's start
      if (!whole && (firstBreak === -1 || text.slice(firstBreak + 1).trim() === '')) {
        length = size
        continue
      }
      const lines = whole ? text : text.slice(firstBreak + 1)
      let found: string | undefined
      for (const match of lines.matchAll(MAPPING_COMMENT)) found = match[1]
      return found
    }
  } finally {
    await handle.close()
  }
}

/** The JSON text of a `data:application/json[;charset=…][;base64],…` URL, if it is one and within the cap. */
function decodeDataUrl(url: string, maxMapBytes: number): string | undefined {
  const comma = url.indexOf(',')
  if (comma === -1) return undefined
  const params = url.slice('data:'.length, comma).toLowerCase().split(';')
  if (params[0] !== 'application/json') return undefined
  const payload = url.slice(comma + 1)
  if (params.includes('base64')) {
    if ((payload.length * 3) / 4 > maxMapBytes) return undefined
    return Buffer.from(payload, 'base64').toString('utf8')
  }
  if (payload.length > maxMapBytes) return undefined
  return decodeURIComponent(payload)
}

/** The map file's text; `undefined` when it is missing, not a file, or over the cap. */
async function readMapFile(path: string, maxMapBytes: number): Promise<string | undefined> {
  let handle
  try {
    handle = await open(path, 'r')
  } catch {
    return undefined
  }
  try {
    const stats = await handle.stat()
    if (!stats.isFile() || stats.size > maxMapBytes) return undefined
    return await handle.readFile('utf8')
  } catch {
    return undefined
  } finally {
    await handle.close()
  }
}

/**
 * Parses a map whose relative sources resolve against `mapUrl`. Sectioned (index) maps are flattened. The
 * mappings are decoded now, so a malformed map fails here, once, rather than in every lookup later.
 */
function parseMap(json: string, mapUrl: string): LoadedSourceMap {
  const map = FlattenMap(JSON.parse(json) as Parameters<typeof FlattenMap>[0], mapUrl)
  decodedMappings(map)
  return { map, bytes: Buffer.byteLength(json) }
}

function safeUrl(value: string, base: URL): URL | undefined {
  try {
    return new URL(value, base)
  } catch {
    return undefined
  }
}
