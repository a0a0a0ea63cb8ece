import { readFile } from 'node:fs/promises'
import type { ServerResponse } from 'node:http'
import type { ViewerAsset } from '../admin/admin-routes.js'
import { fillViewerPage, type ViewerPageParts } from './viewer-page.js'

/**
 * The viewer's files ship in the package's `viewer/` folder, beside `src/` and `dist/`: the same relative URL
 * reaches them from `src/viewer/` under tsx and from `dist/viewer/` once built.
 */
const VIEWER_DIR = new URL('../../viewer/', import.meta.url)

/**
 * The page may run only its own script and style, fetch only from this origin, and never be framed. The
 * config block is `type="application/json"`, which CSP does not treat as script.
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "base-uri 'none'; frame-ancestors 'none'"

const ASSET_TYPES: Readonly<Record<ViewerAsset, string>> = Object.freeze({
  'flamegraph.js': 'text/javascript; charset=utf-8',
  'flamegraph.css': 'text/css; charset=utf-8',
})

interface ViewerFiles {
  page: string
  assets: Record<ViewerAsset, Buffer>
}

let loading: Promise<ViewerFiles> | undefined

/** Read once per process; a failed read is retried by the next request rather than remembered. */
function viewerFiles(): Promise<ViewerFiles> {
  loading ??= loadViewerFiles().catch((error: unknown) => {
    loading = undefined
    throw error
  })
  return loading
}

async function loadViewerFiles(): Promise<ViewerFiles> {
  const read = (name: string) => readFile(new URL(name, VIEWER_DIR))
  const [page, script, stylesheet] = await Promise.all([
    read('flamegraph.html'),
    read('flamegraph.js'),
    read('flamegraph.css'),
  ])
  return {
    page: page.toString('utf8'),
    assets: { 'flamegraph.js': script, 'flamegraph.css': stylesheet },
  }
}

/** The HTML page for one capture, with its config block filled in. */
export async function sendViewerPage(res: ServerResponse, parts: ViewerPageParts): Promise<void> {
  const html = fillViewerPage((await viewerFiles()).page, parts)
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    // the page and the URLs in it carry a link token: keep them out of caches and Referer headers
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
  })
  res.end(html)
}

/** The viewer's script or stylesheet. */
export async function sendViewerAsset(res: ServerResponse, asset: ViewerAsset): Promise<void> {
  const body = (await viewerFiles()).assets[asset]
  res.writeHead(200, {
    'content-type': ASSET_TYPES[asset],
    'content-length': body.length,
    'x-content-type-options': 'nosniff',
    // its URL carries the page's link token, so a cached copy would only ever be hit by a reload
    'cache-control': 'no-store',
    'cross-origin-resource-policy': 'same-origin',
  })
  res.end(body)
}
