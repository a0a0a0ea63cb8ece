/** The admin API's routes, relative to the prefix. */
export type AdminRoute =
  | { name: 'status' }
  | { name: 'captures' }
  | { name: 'capture' | 'stop' | 'profile'; id: string }
  /** The viewer page, or (`asset`) its script or stylesheet, which share the page's auth: see serve-viewer. */
  | { name: 'flamegraph'; id: string; asset?: ViewerAsset }

export type AdminRouteName = AdminRoute['name']

export const ROUTE_METHODS: Readonly<Record<AdminRouteName, readonly string[]>> = Object.freeze({
  status: ['GET'],
  captures: ['GET', 'POST'],
  capture: ['GET', 'DELETE'],
  stop: ['POST'],
  profile: ['GET'],
  flamegraph: ['GET'],
})

const CAPTURE_SUBROUTES = ['stop', 'profile', 'flamegraph'] as const
type CaptureSubroute = (typeof CAPTURE_SUBROUTES)[number]

/** The flame-graph viewer's static files, served under `captures/:id/flamegraph/`. */
export const VIEWER_ASSETS = ['flamegraph.js', 'flamegraph.css'] as const
export type ViewerAsset = (typeof VIEWER_ASSETS)[number]

export interface AdminTarget {
  /** The request path exactly as sent, never normalized. */
  path: string
  /** The query string including its `?`, or ''. */
  search: string
  /** The decoded path segments after the prefix; `undefined` when one holds a malformed %-escape. */
  segments: string[] | undefined
}

/**
 * Splits a request target that lies at or under `prefix`, or returns `undefined`. The raw path is used on
 * purpose: `new URL()` would resolve `..` and `%2e%2e` segments, silently turning an attack into a
 * different, valid route instead of a 400.
 */
export function adminTarget(url: string | undefined, prefix: string): AdminTarget | undefined {
  if (url === undefined || !url.startsWith(prefix)) return undefined
  const end = url.search(/[?#]/)
  const path = end < 0 ? url : url.slice(0, end)
  if (path !== prefix && !path.startsWith(`${prefix}/`)) return undefined
  const search = end < 0 || url[end] === '#' ? '' : url.slice(end).replace(/#.*$/s, '')
  const rest = path.slice(prefix.length + 1)
  return { path, search, segments: path === prefix ? [] : decodeSegments(rest) }
}

function decodeSegments(rest: string): string[] | undefined {
  try {
    return rest.split('/').map((segment) => decodeURIComponent(segment))
  } catch {
    return undefined
  }
}

/**
 * The route that decoded segments name. `captures/<x>/…` is a capture route whatever `<x>` is, so the caller
 * can refuse a bad id with 400 before deciding that the rest of the path is unknown.
 */
export function matchRoute(segments: readonly string[]): AdminRoute | undefined {
  const [first, id, sub, ...extra] = segments
  if (segments.length === 1 && first === 'status') return { name: 'status' }
  if (first !== 'captures') return undefined
  if (id === undefined) return { name: 'captures' }
  if (sub === undefined) return { name: 'capture', id }
  if (sub === 'flamegraph' && extra.length === 1 && isViewerAsset(extra[0]!)) {
    return { name: 'flamegraph', id, asset: extra[0] }
  }
  if (extra.length > 0 || !isCaptureSubroute(sub)) return undefined
  return { name: sub, id }
}

function isCaptureSubroute(value: string): value is CaptureSubroute {
  return (CAPTURE_SUBROUTES as readonly string[]).includes(value)
}

function isViewerAsset(value: string): value is ViewerAsset {
  return (VIEWER_ASSETS as readonly string[]).includes(value)
}

/** The capture id segment of a `captures/<id>/…` path, valid or not. */
export function captureIdSegment(segments: readonly string[]): string | undefined {
  return segments[0] === 'captures' ? segments[1] : undefined
}
