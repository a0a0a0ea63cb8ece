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

/**
 * The function the suite looks for in stored profiles. Its body is deliberately long: V8 never inlines a
 * function of more than 460 bytes of bytecode (this one has ~690), so it stays a frame of its own however hot
 * its callers get, and every profile names it.
 */
export function conformanceHotPath(ms: number): number {
  const end = performance.now() + ms
  let a = 1
  let b = 2
  let c = 3
  let d = 4
  while (performance.now() < end) {
    for (let i = 0; i < 2000; i++) {
      a = (a * 31 + i) % 1000003
      b = (b ^ (a << 3)) >>> 0
      c = (c + Math.sqrt(a + b)) % 65521
      d = (d * 17 + (c | 0)) % 1000033
      a = (a + (d >>> 2)) % 1000003
      b = (b + Math.imul(a, 2654435761)) >>> 0
      c = (c + Math.sin(b) * 1000) % 65521
      d = (d ^ (b >>> 5)) % 1000033
      a = (a * 7 + (c | 0)) % 1000003
      b = (b + (d << 1)) >>> 0
      c = Math.abs(c + Math.cos(a)) % 65521
      d = (d + a + b) % 1000033
      a = (a * 37 + i) % 1000003
      b = (b ^ (a << 3)) >>> 0
      c = (c + Math.sqrt(a + b)) % 65521
      d = (d * 19 + (c | 0)) % 1000033
      a = (a + (d >>> 2)) % 1000003
      b = (b + Math.imul(a, 2654435761)) >>> 0
      c = (c + Math.sin(b) * 1000) % 65521
      d = (d ^ (b >>> 5)) % 1000033
      a = (a * 7 + (c | 0)) % 1000003
      b = (b + (d << 1)) >>> 0
      c = Math.abs(c + Math.cos(a)) % 65521
      d = (d + a + b) % 1000033
    }
  }
  return a + b + c + d
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

/** What the application can see of the trigger header, parsed or raw (request loggers read the raw list). */
export function headersResponse(req: IncomingMessage): { triggerHeader: unknown; inRawHeaders: boolean } {
  return {
    triggerHeader: req.headers['x-trigger-profile'] ?? null,
    inRawHeaders: req.rawHeaders.some((name) => name.toLowerCase() === 'x-trigger-profile'),
  }
}

/** Writes the /stream body on the raw response, whatever the framework. */
export function writeStream(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/plain' })
  res.write('a')
  setTimeout(() => res.write('b'), 100)
  setTimeout(() => res.end('c'), 200)
}
