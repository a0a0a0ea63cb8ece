import { OptionChecker } from '../option-checks.js'
import { SlidingLatencyWindow, type SlidingLatencyWindowOptions } from './sliding-window.js'

export interface RouteLatencyTableOptions {
  /** Distinct `METHOD route` keys tracked on their own; later keys share `OTHER_ROUTES`. Default 100. */
  maxRoutes?: number
  window?: SlidingLatencyWindowOptions
}

export interface RouteLatencyStats {
  /** `METHOD route`, `OTHER_ROUTES` or `METHOD (unmatched route)`. */
  route: string
  /** Requests in the window. */
  count: number
  /** Quantiles in ms over the window; NaN when `count` is 0. */
  p50: number
  p90: number
  p99: number
}

/** The key that every route beyond `maxRoutes` shares. It has no space, so no `METHOD route` key equals it. */
export const OTHER_ROUTES = 'other'
/** The route part of the key for requests no route template matched. */
export const UNMATCHED_ROUTE = '(unmatched route)'
export const DEFAULT_MAX_ROUTES = 100

const KNOWN_OPTIONS = ['maxRoutes', 'window']

/**
 * A sliding latency window per route template. The number of windows is capped: each costs tens of kilobytes,
 * and a router that passes raw URLs, or a scan over many paths, must not be able to grow memory without bound.
 * The first `maxRoutes` keys seen keep their own window for the life of the table.
 */
export class RouteLatencyTable {
  readonly maxRoutes: number
  private readonly windowOptions: SlidingLatencyWindowOptions
  // The lookup on the request path: method, then route. Building a `METHOD route` string per request would
  // allocate and hash a fresh string every time (~150 ns); the method and route strings a server passes are
  // usually the same objects each time, with their hashes cached, so two lookups cost ~20 ns
  private readonly byMethod = new Map<string, Map<string, SlidingLatencyWindow>>()
  // The same windows by `METHOD route`, for readers; OTHER_ROUTES is here, never in byMethod
  private readonly byKey = new Map<string, SlidingLatencyWindow>()
  private admitted = 0
  private other: SlidingLatencyWindow | undefined

  constructor(options: RouteLatencyTableOptions = {}) {
    const check = new OptionChecker('RouteLatencyTable')
    const o = check.object('', options, KNOWN_OPTIONS)
    this.maxRoutes = check.integer('maxRoutes', o.maxRoutes, DEFAULT_MAX_ROUTES, 0, 10_000)
    this.windowOptions = options.window ?? {}
    // Fails here, at configuration time, rather than on the first request
    new SlidingLatencyWindow(this.windowOptions)
  }

  /** Keys tracked, `OTHER_ROUTES` included once it is in use; at most `maxRoutes + 1`. */
  get size(): number {
    return this.byKey.size
  }

  /**
   * Records one request's latency in ms under `METHOD route`. `nowMs`, if given, is the current reading of the
   * windows' clock, which spares a second clock read (see `SlidingLatencyWindow.record`).
   */
  record(method: string, route: string | undefined, ms: number, nowMs?: number): void {
    const window = this.ownWindow(method, route) ?? this.otherWindow()
    if (nowMs === undefined) window.record(ms)
    else window.record(ms, nowMs)
  }

  /**
   * The window of `METHOD route` itself, admitting the key while there is room; `undefined` once the key is one
   * of those past `maxRoutes`, whose latencies go to `otherWindow()`.
   */
  ownWindow(method: string, route: string | undefined): SlidingLatencyWindow | undefined {
    return this.byMethod.get(method)?.get(route ?? UNMATCHED_ROUTE) ?? this.admit(method, route)
  }

  /** The window that every key past `maxRoutes` shares (`OTHER_ROUTES`), created when first needed. */
  otherWindow(): SlidingLatencyWindow {
    if (this.other === undefined) {
      this.other = new SlidingLatencyWindow(this.windowOptions)
      this.byKey.set(OTHER_ROUTES, this.other)
    }
    return this.other
  }

  /** The tracked keys and their windows, in first-seen order. */
  routes(): IterableIterator<[string, SlidingLatencyWindow]> {
    return this.byKey.entries()
  }

  /** Per-key count and quantiles over the window, sorted by key. */
  stats(): RouteLatencyStats[] {
    const stats: RouteLatencyStats[] = []
    for (const [route, window] of this.byKey) {
      const snapshot = window.snapshot()
      stats.push({
        route,
        count: snapshot.count,
        p50: snapshot.quantile(0.5),
        p90: snapshot.quantile(0.9),
        p99: snapshot.quantile(0.99),
      })
    }
    // Code-unit order, not locale order: the same on every host
    return stats.sort((a, b) => (a.route < b.route ? -1 : a.route > b.route ? 1 : 0))
  }

  private admit(method: string, route: string | undefined): SlidingLatencyWindow | undefined {
    // The key itself is not remembered past the cap, so keys beyond it cost nothing but the lookup
    if (this.admitted >= this.maxRoutes) return undefined
    const window = new SlidingLatencyWindow(this.windowOptions)
    const path = route ?? UNMATCHED_ROUTE
    let routes = this.byMethod.get(method)
    if (routes === undefined) {
      routes = new Map<string, SlidingLatencyWindow>()
      this.byMethod.set(method, routes)
    }
    routes.set(path, window)
    this.byKey.set(`${method} ${path}`, window)
    this.admitted++
    return window
  }
}
