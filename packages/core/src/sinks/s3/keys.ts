import { isCaptureId, kindOfCaptureId } from '../../capture-id.js'
import { captureFileName } from '../../capture-kinds.js'

/**
 * The bucket layout: `<prefix>/<service>/<yyyy>/<mm>/<dd>/<id>.<ext>` and `<id>.json` beside it, the date being
 * the UTC day in the capture id. Folders by day let `list` walk the newest days first instead of reading
 * every key (S3 lists keys in ascending order only), and let lifecycle rules and people browse by date.
 */

/** Object keys of one capture. */
export interface CaptureKeys {
  body: string
  meta: string
}

/** Longer service names are cut: keys are at most 1024 bytes and the rest of the key needs room. */
const MAX_SEGMENT_LENGTH = 100

/**
 * The key folder for a service name: characters outside `[A-Za-z0-9._-]` become `_`, and `.`/`..` (which some
 * stores and every file browser treat specially) become `_` too. The metadata keeps the real name.
 */
export function serviceSegment(service: string): string {
  const safe = service.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, MAX_SEGMENT_LENGTH)
  return safe === '' || safe === '.' || safe === '..' ? '_' : safe
}

/** `yyyy/mm/dd/` of a valid capture id. */
export function dayFolderOf(id: string): string {
  return `${id.slice(0, 4)}/${id.slice(4, 6)}/${id.slice(6, 8)}/`
}

/** `<prefix><segment>/`: everything one service stored. `prefix` is normalised (empty or ending in `/`). */
export function serviceFolder(prefix: string, segment: string): string {
  return `${prefix}${segment}/`
}

export function captureKeys(prefix: string, segment: string, id: string): CaptureKeys {
  const folder = `${serviceFolder(prefix, segment)}${dayFolderOf(id)}`
  return { body: `${folder}${captureFileName(id, kindOfCaptureId(id))}`, meta: `${folder}${id}.json` }
}

/** The capture id of a metadata key (`…/<id>.json`), or undefined for any other key. */
export function idOfMetaKey(key: string): string | undefined {
  const name = key.slice(key.lastIndexOf('/') + 1)
  if (!name.endsWith('.json')) return undefined
  const id = name.slice(0, -'.json'.length)
  return isCaptureId(id) ? id : undefined
}

/** The capture id of a body key (`…/<id>.<ext>` with the extension of the id's kind), or undefined. */
export function idOfBodyKey(key: string): string | undefined {
  const name = key.slice(key.lastIndexOf('/') + 1)
  const dot = name.indexOf('.')
  const id = name.slice(0, dot)
  if (dot < 0 || !isCaptureId(id)) return undefined
  return name === captureFileName(id, kindOfCaptureId(id)) ? id : undefined
}

/**
 * Normalises the `prefix` option: no leading or trailing `/`, then one trailing `/` unless empty. Returns an
 * error text for prefixes that stores or tools misread (`.`/`..`/empty segments, control characters).
 */
export function normalizePrefix(prefix: string): { prefix: string } | { problem: string } {
  const trimmed = prefix.replace(/^\/+|\/+$/g, '')
  if (trimmed === '') return { prefix: '' }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(trimmed)) {
    return { problem: 'must not contain control characters or backslashes' }
  }
  if (trimmed.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    return { problem: `must not contain empty, "." or ".." segments, got ${JSON.stringify(prefix)}` }
  }
  if (trimmed.length > 512) return { problem: 'must be at most 512 characters' }
  return { prefix: `${trimmed}/` }
}

export interface ParsedCaptureKey {
  segment: string
  id: string
  part: 'body' | 'meta'
}

/**
 * Reads a key of this layout under `prefix`, or returns undefined for anything else in the bucket: retention
 * must never delete an object that merely looks like a capture (a copied LocalDiskSink folder, say).
 */
export function parseCaptureKey(prefix: string, key: string): ParsedCaptureKey | undefined {
  if (!key.startsWith(prefix)) return undefined
  const parts = key.slice(prefix.length).split('/')
  if (parts.length !== 5) return undefined
  const [segment, year, month, day, name] = parts as [string, string, string, string, string]
  const metaId = idOfMetaKey(name)
  const id = metaId ?? idOfBodyKey(name)
  if (id === undefined || segment === '' || `${year}/${month}/${day}/` !== dayFolderOf(id)) return undefined
  return { segment, id, part: metaId === undefined ? 'body' : 'meta' }
}
