import type { IncomingMessage, ServerResponse } from 'node:http'
// Imported, not the global: the global `performance` is a lazy getter that runs on every access
import { performance } from 'node:perf_hooks'
import { routeOrUndefined, type RouteOf } from '../route-of.js'

/** Where a response's latency goes: the controller's latency tables. */
export type LatencyRecorder = (method: string, route: string | undefined, ms: number, nowMs: number) => void

/**
 * Records the latency of each response it is asked to time, from `start()` until the response has finished
 * (handed to the socket, as Fastify's `onResponse` and most HTTP metrics time it), under the route template
 * the framework had matched by then. A request whose client gave up before anything was answered (a timeout,
 * a proxy cutting it off) is recorded when its connection went away: at least that slow, and never answering
 * is what a hang looks like, so an SLO rule must see it. One whose client left while the answer was still being
 * written (a stream, a download being piped) is not: its length is the client's choice, not the route's latency.
 */
export class ResponseTiming {
  private closed = false

  constructor(private readonly record: LatencyRecorder) {}

  /** Starts timing `res`; `routeOf(context)` is asked for the route once it has finished or been given up. */
  start<Context>(
    req: IncomingMessage,
    res: ServerResponse,
    routeOf: RouteOf<Context>,
    context: Context,
  ): void {
    if (this.closed) return
    const startedMs = performance.now()
    // 'close' comes once either way: on the tick after 'finish', or when the connection goes away first (and
    // then 'finish' never comes; on Node 20 and 22 a pipelined response still queued behind another gets
    // neither). It also has no listener of Node's own, where 'finish' has one and a second makes an array to
    // allocate and copy on every emit. `on`, not `once`: `once` adds a wrapper and a
    // removal. Measured and not taken: Node's response-finished diagnostics channel costs as much per response
    // (and every response of the process pays it once anyone subscribes), and wrapping `res.end` misses
    // responses that never end.
    res.on('close', () => {
      // Left mid-answer: the application had begun its answer (headers sent) and not yet ended it. Ended is
      // judged by `writableEnded`, not `writableFinished`: under Fastify's inject() (light-my-request) the
      // response's stand-in socket never drains, so a finished answer still reads as unflushed at 'close'
      if (this.closed || (!res.writableEnded && res.headersSent)) return
      const now = performance.now()
      this.record(req.method ?? 'GET', routeOrUndefined(routeOf, context), now - startedMs, now)
    })
  }

  /** Stops timing: responses that finish from now on are not recorded. */
  close(): void {
    this.closed = true
  }
}
