import type { IncomingMessage, ServerResponse } from 'node:http'
// Imported, not the global: the global `performance` is a lazy getter that runs on every access
import { performance } from 'node:perf_hooks'
import { routeOrUndefined, type RouteOf } from '../route-of.js'

/** Where a finished response's latency goes: the controller's latency tables. */
export type LatencyRecorder = (method: string, route: string | undefined, ms: number, nowMs: number) => void

/**
 * Records the latency of each response it is asked to time, from `start()` until the response has finished
 * (handed to the socket: `'finish'`, as Fastify's `onResponse` and most HTTP metrics use), under the route
 * template the framework had matched by then.
 */
export class ResponseTiming {
  private closed = false

  constructor(private readonly record: LatencyRecorder) {}

  /** Starts timing `res`; `routeOf(context)` is asked for the route once it has finished. */
  start<Context>(
    req: IncomingMessage,
    res: ServerResponse,
    routeOf: RouteOf<Context>,
    context: Context,
  ): void {
    if (this.closed) return
    const startedMs = performance.now()
    // `on`, not `once`: 'finish' is emitted once per response, and `once` would add a wrapper and a removal to
    // every request. Measured against this listener: Node's response-finished diagnostics channel costs as
    // much per response (and every response of the process pays it once anyone subscribes), and wrapping
    // `res.end` saves ~20 ns but times the response to a different point than Fastify's does.
    res.on('finish', () => {
      if (this.closed) return
      const now = performance.now()
      this.record(req.method ?? 'GET', routeOrUndefined(routeOf, context), now - startedMs, now)
    })
  }

  /** Stops timing: responses that finish from now on are not recorded. */
  close(): void {
    this.closed = true
  }
}
