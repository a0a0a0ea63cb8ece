/**
 * What every adapter's test app serves, so that one suite can drive them all. Each adapter's test registers
 * these routes with its own framework and calls the handlers below for the work.
 *
 *   GET /work/:ms        JSON { ok: true, spent }  after ~ms of CPU in conformanceHotPath
 *   GET /slow/:ms        JSON { ok: true, waited }  after ~ms of waiting (requests overlap, unlike /work)
 *   GET /health          text "ok"
 *   GET /stream          text "a", "b", "c" written 100 ms apart (headers go out with "a")
 *   GET /api/items/:id   JSON { id }  from a nested router or prefix, so the route template is /api/items/:id
 *   GET /headers         JSON { triggerHeader, inRawHeaders }  what the app sees of x-trigger-profile (nothing)
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TripwireController, TripwireOptions } from '@tripwire/core'

export interface ConformanceApp {
  /** `http://127.0.0.1:<port>` */
  url: string
  /** The controller the adapter created (from its middleware, plugin or decorator). */
  controller: TripwireController
  close(): Promise<void>
}

/** Builds the app with the adapter under test, listening on 127.0.0.1 port 0. */
export type CreateApp = (options: TripwireOptions) => Promise<ConformanceApp>

/** The route's hot code: the suite looks for it (and its caller, workResponse) in stored profiles. */
export function conformanceHotPath(ms: number): number {
  const end = performance.now() + ms
  let x = 0
  while (performance.now() < end) for (let i = 0; i < 5000; i++) x += Math.sqrt(i * x + 1)
  return x
}

export function workResponse(msParam: string): { ok: true; spent: number } {
  const ms = Math.min(Math.max(Number(msParam) || 0, 0), 2000)
  conformanceHotPath(ms)
  return { ok: true, spent: ms }
}

export async function slowResponse(msParam: string): Promise<{ ok: true; waited: number }> {
  const ms = Math.min(Math.max(Number(msParam) || 0, 0), 2000)
  await new Promise((resolve) => setTimeout(resolve, ms))
  return { ok: true, waited: ms }
}

/**
 * What the application can see of the trigger header: parsed, raw (request loggers read the raw list) or in
 * `headersDistinct`, which Node builds from the raw list when first read, after Tripwire has taken the header out.
 */
export function headersResponse(req: IncomingMessage): {
  triggerHeader: unknown
  inRawHeaders: boolean
  distinct: Record<string, string[]>
} {
  return {
    triggerHeader: req.headers['x-trigger-profile'] ?? null,
    inRawHeaders: req.rawHeaders.some((name) => name.toLowerCase() === 'x-trigger-profile'),
    distinct: { ...req.headersDistinct } as Record<string, string[]>,
  }
}

/** Writes the /stream body on the raw response, whatever the framework. */
export function writeStream(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/plain' })
  res.write('a')
  setTimeout(() => res.write('b'), 100)
  setTimeout(() => res.end('c'), 200)
}
