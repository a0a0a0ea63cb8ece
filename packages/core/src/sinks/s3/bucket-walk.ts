import { kindOfCaptureId } from '../../capture-id.js'
import type { CaptureKind } from '../../types.js'
import { mapLimit } from './concurrency.js'
import { idOfMetaKey, serviceFolder } from './keys.js'
import type { CaptureObjectStore, RequestBudget } from './object-store.js'

/**
 * List requests one `list` call may spend before it stops at a day boundary and returns a cursor (it always
 * finishes the day it is in, and always reads at least one day). At ~20-50 ms per request on S3 this keeps a
 * page under a few seconds however sparse or large the bucket is.
 */
export const MAX_LIST_REQUESTS_PER_CALL = 64

/** Services whose day folders are looked up at once. */
const SERVICE_CONCURRENCY = 8

export interface WalkQuery {
  /** Empty, or ending in `/`. */
  prefix: string
  /** Only this service folder; every service under the prefix when undefined. */
  segment: string | undefined
  cursor: string | undefined
  kind: CaptureKind | undefined
  /** Stop after the day in which this many matching ids have been found. */
  want: number
}

export interface FoundCapture {
  id: string
  segment: string
}

export interface WalkResult {
  /** Matching ids of every day read, unordered. */
  found: FoundCapture[]
  /** Every day older than the cursor was read. */
  exhausted: boolean
  /**
   * When not exhausted: a cursor (an id no capture can be older than, within the oldest day read) from which
   * the next call goes on. Every capture of the days read is newer than it.
   */
  floor: string | undefined
}

interface DayFolder {
  /** yyyymmdd */
  day: string
  folder: string
  segment: string
}

interface ServiceHead {
  days: AsyncGenerator<DayFolder, void>
  /** The service's next day folder; undefined when it has no older day. */
  current: DayFolder | undefined
}

/**
 * Finds capture ids newest first. S3 lists keys in ascending order only, so instead of reading the whole
 * prefix and keeping the tail, this walks the date folders of the layout (`<service>/<yyyy>/<mm>/<dd>/`)
 * newest first, merging services day by day, and reads whole days until it has `want` matches.
 */
export async function walkNewestFirst(store: CaptureObjectStore, query: WalkQuery): Promise<WalkResult> {
  const budget: RequestBudget = { spent: 0 }
  const maxDay = query.cursor?.slice(0, 8) ?? '99999999'
  const segments =
    query.segment !== undefined ? [query.segment] : await serviceSegments(store, query.prefix, budget)
  const heads: ServiceHead[] = await mapLimit(segments, SERVICE_CONCURRENCY, async (segment) => {
    const head: ServiceHead = {
      days: daysNewestFirst(store, serviceFolder(query.prefix, segment), segment, maxDay, budget),
      current: undefined,
    }
    await advance(head)
    return head
  })

  const found: FoundCapture[] = []
  let oldestDayRead: string | undefined
  for (;;) {
    const pending = heads.flatMap((head) => (head.current === undefined ? [] : [head.current.day]))
    if (pending.length === 0) return { found, exhausted: true, floor: undefined }
    if (
      oldestDayRead !== undefined &&
      (found.length >= query.want || budget.spent >= MAX_LIST_REQUESTS_PER_CALL)
    ) {
      return { found, exhausted: false, floor: `${oldestDayRead}T000000Z-cpu-00000000` }
    }
    const day = pending.reduce((newest, candidate) => (candidate > newest ? candidate : newest))
    const today = heads.filter((head) => head.current?.day === day)
    await mapLimit(today, SERVICE_CONCURRENCY, async (head) => {
      const { folder, segment } = head.current!
      for await (const page of store.listObjects(folder, budget)) {
        for (const { key } of page) {
          const id = idOfMetaKey(key)
          if (id === undefined || !id.startsWith(day)) continue
          if (query.cursor !== undefined && id >= query.cursor) continue
          if (query.kind !== undefined && kindOfCaptureId(id) !== query.kind) continue
          found.push({ id, segment })
        }
      }
      await advance(head)
    })
    oldestDayRead = day
  }
}

async function advance(head: ServiceHead): Promise<void> {
  const next = await head.days.next()
  head.current = next.done === true ? undefined : next.value
}

/** The service folders under the prefix (their key segments). */
async function serviceSegments(
  store: CaptureObjectStore,
  prefix: string,
  budget: RequestBudget,
): Promise<string[]> {
  const folders = await store.listFolders(prefix, budget)
  return folders.map((folder) => folder.slice(prefix.length, -1)).filter((segment) => segment !== '')
}

/** One service's day folders, newest first, none later than `maxDay`; folders are listed only when reached. */
async function* daysNewestFirst(
  store: CaptureObjectStore,
  root: string,
  segment: string,
  maxDay: string,
  budget: RequestBudget,
): AsyncGenerator<DayFolder, void> {
  for (const year of await children(store, root, /^\d{4}$/, budget)) {
    if (year > maxDay.slice(0, 4)) continue
    for (const month of await children(store, `${root}${year}/`, /^(0[1-9]|1[0-2])$/, budget)) {
      if (year + month > maxDay.slice(0, 6)) continue
      const monthFolder = `${root}${year}/${month}/`
      for (const day of await children(store, monthFolder, /^(0[1-9]|[12]\d|3[01])$/, budget)) {
        if (year + month + day > maxDay) continue
        yield { day: year + month + day, folder: `${monthFolder}${day}/`, segment }
      }
    }
  }
}

/** Names of the folders directly under `folder` that match `pattern`, in descending order. */
async function children(
  store: CaptureObjectStore,
  folder: string,
  pattern: RegExp,
  budget: RequestBudget,
): Promise<string[]> {
  const names = (await store.listFolders(folder, budget)).map((child) => child.slice(folder.length, -1))
  return names.filter((name) => pattern.test(name)).sort((a, b) => (a < b ? 1 : a > b ? -1 : 0))
}
