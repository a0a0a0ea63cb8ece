import { didYouMean } from '../did-you-mean.js'
import { isCaptureId } from '../capture-id.js'
import { isTriggerType, TRIGGER_TYPES } from '../capture-request.js'
import { CAPTURE_KINDS, isCaptureKind } from '../capture-kinds.js'
import type { TripwireController } from '../controller.js'
import { ErrorCodes, TripwireError } from '../errors.js'
import type { CaptureKind, CaptureMeta, TriggerType } from '../types.js'

export const LIST_LIMIT = { default: 20, max: 100 } as const

/**
 * A sink filters by kind only, so a trigger filter reads pages and drops the rest; this bounds the work one
 * request may cause. The client continues from `nextCursor`.
 */
export const MAX_SINK_PAGES_PER_REQUEST = 10

export interface ListQuery {
  limit: number
  cursor?: string
  kind?: CaptureKind
  trigger?: TriggerType
}

export interface ListPage {
  items: CaptureMeta[]
  nextCursor?: string
}

const LIST_PARAMETERS = ['limit', 'cursor', 'kind', 'trigger'] as const

/** Validates `?limit=&cursor=&kind=&trigger=`; anything out of shape is a 400, never silently ignored. */
export function parseListQuery(params: URLSearchParams): ListQuery {
  for (const name of LIST_PARAMETERS) {
    if (params.getAll(name).length > 1) invalid(`${name} may be given once`)
  }
  for (const name of params.keys()) {
    if (!(LIST_PARAMETERS as readonly string[]).includes(name)) {
      // a misspelt filter silently ignored would list everything and look like an answer
      const hint = didYouMean(name, LIST_PARAMETERS)
      invalid(
        `${show(name)} is not a list parameter${hint ? `; did you mean "${hint}"?` : ''}; they are ${LIST_PARAMETERS.join(', ')}`,
      )
    }
  }
  const query: ListQuery = { limit: LIST_LIMIT.default }
  const limit = params.get('limit')
  if (limit !== null) {
    const value = /^\d{1,4}$/.test(limit) ? Number(limit) : NaN
    if (!(value >= 1 && value <= LIST_LIMIT.max)) {
      invalid(`limit must be a whole number from 1 to ${LIST_LIMIT.max}, got ${show(limit)}`)
    }
    query.limit = value
  }
  const cursor = params.get('cursor')
  if (cursor !== null) {
    if (!isCaptureId(cursor)) invalid(`cursor must be the nextCursor of a previous page, got ${show(cursor)}`)
    query.cursor = cursor
  }
  const kind = params.get('kind')
  if (kind !== null) {
    if (!isCaptureKind(kind)) {
      invalid(`kind must be one of ${Object.keys(CAPTURE_KINDS).join(', ')}, got ${show(kind)}`)
    }
    query.kind = kind
  }
  const trigger = params.get('trigger')
  if (trigger !== null) {
    if (!isTriggerType(trigger)) {
      invalid(`trigger must be one of ${Object.keys(TRIGGER_TYPES).join(', ')}, got ${show(trigger)}`)
    }
    query.trigger = trigger
  }
  return query
}

/**
 * One page of captures, newest first: the running capture (first page only), then the sink's. Sink cursors
 * are capture ids ("older than this one"), which is what lets a page stop in the middle of a sink page.
 */
export async function listCaptures(controller: TripwireController, query: ListQuery): Promise<ListPage> {
  const matches = (meta: CaptureMeta): boolean =>
    (query.kind === undefined || meta.kind === query.kind) &&
    (query.trigger === undefined || meta.trigger.type === query.trigger)
  const items: CaptureMeta[] = []
  const running = controller.current()
  if (query.cursor === undefined && running !== undefined && matches(running)) items.push(running)
  if (items.length === query.limit) return { items, nextCursor: running!.id }

  let cursor = query.cursor
  for (let pages = 0; pages < MAX_SINK_PAGES_PER_REQUEST; pages++) {
    const wanted = query.limit - items.length
    const page = await controller.list({
      // with a trigger filter most of a page may be dropped: read full pages to need fewer of them
      limit: query.trigger === undefined ? wanted : LIST_LIMIT.max,
      ...(cursor !== undefined && { cursor }),
      ...(query.kind !== undefined && { kind: query.kind }),
    })
    for (const [index, meta] of page.items.entries()) {
      // a capture that ended while this request ran may be both "running" above and stored here
      if (meta.id === running?.id || !matches(meta)) continue
      items.push(meta)
      if (items.length === query.limit) {
        const more = index < page.items.length - 1 || page.nextCursor !== undefined
        return more ? { items, nextCursor: meta.id } : { items }
      }
    }
    if (page.nextCursor === undefined) return { items }
    cursor = page.nextCursor
  }
  return cursor === undefined ? { items } : { items, nextCursor: cursor }
}

function show(value: string): string {
  return JSON.stringify(value.slice(0, 80))
}

function invalid(message: string): never {
  throw new TripwireError(ErrorCodes.INVALID_REQUEST, message)
}
