import type { SlidingLatencyWindow, SlidingLatencyWindowOptions } from './sliding-window.js'
import { RouteLatencyTable, UNMATCHED_ROUTE } from './route-latency.js'

/**
 * A table's options: its window length and slices, never its histogram layout, so that every window of every
 * table puts a value in the same bucket.
 */
export interface LatencyTableOptions {
  maxRoutes?: number
  window: Omit<SlidingLatencyWindowOptions, 'histogram'>
}

/**
 * The route latency tables of every window length in use (status reads 60 s, each SLO rule its own), recorded
 * into with one lookup per request: the route's windows in all of them are found once and kept together, where
 * recording into each table would look the route up once per table, and the value's histogram bucket is found
 * once for all of them.
 */
export class RouteLatencyTables {
  private readonly byWindowMs = new Map<number, RouteLatencyTable>()
  private readonly tables: RouteLatencyTable[] = []
  // METHOD → route → that key's own window in each table, in `tables` order. Only keys that every table tracks
  // on their own are kept, so this is as bounded as the tables are
  private byMethod = new Map<string, Map<string, SlidingLatencyWindow[]>>()
  // The windows the keys past every table's cap share: one array, not one per request
  private otherWindows: SlidingLatencyWindow[] | undefined

  constructor(private readonly optionsFor: (windowMs: number) => LatencyTableOptions) {}

  /** The table of this window length, created when first asked for. */
  table(windowMs: number): RouteLatencyTable {
    let table = this.byWindowMs.get(windowMs)
    if (table === undefined) {
      table = new RouteLatencyTable(this.optionsFor(windowMs))
      this.byWindowMs.set(windowMs, table)
      this.tables.push(table)
      // every kept list of windows lacks the new table's
      this.byMethod = new Map()
      this.otherWindows = undefined
    }
    return table
  }

  /** Records one request's latency in every table; `nowMs` is the current reading of the windows' clock. */
  record(method: string, route: string | undefined, ms: number, nowMs: number): void {
    const windows = this.byMethod.get(method)?.get(route ?? UNMATCHED_ROUTE) ?? this.windowsOf(method, route)
    // one layout for every window: the bucket is found once
    const bucket = windows[0]!.bucketFor(ms)
    if (bucket < 0) return
    for (let i = 0; i < windows.length; i++) windows[i]!.recordIn(bucket, ms, nowMs)
  }

  private windowsOf(method: string, route: string | undefined): SlidingLatencyWindow[] {
    const own = this.tables.map((table) => table.ownWindow(method, route))
    if (own.every((window) => window !== undefined)) {
      let routes = this.byMethod.get(method)
      if (routes === undefined) {
        routes = new Map()
        this.byMethod.set(method, routes)
      }
      routes.set(route ?? UNMATCHED_ROUTE, own)
      return own
    }
    if (own.every((window) => window === undefined)) {
      this.otherWindows ??= this.tables.map((table) => table.otherWindow())
      return this.otherWindows
    }
    // tables created at different times can disagree on which keys they admitted
    return own.map((window, index) => window ?? this.tables[index]!.otherWindow())
  }
}
