import type { IncomingMessage, ServerResponse } from 'node:http'
import { routeOrUndefined, type RouteOf } from '../route-of.js'

/** Where a finished response's latency goes: the controller's latency tables. */
export type LatencyRecorder = (method: string, route: string | undefined, ms: number, nowMs: number) => void

/**
 * Records the latency of each response it is asked to time, from `start()` until the response has finished
 * (handed to the socket), under the route template the framework had matched by then.
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
    // every request. Measured, a 'finish' listener costs no more than Node's response-finished diagnostics
    // channel would, which every response of the process pays for once anyone subscribes to it.
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
