import type { IncomingMessage, ServerResponse } from 'node:http'
import { createAdminHandler, type AdminHandler } from './admin/admin-handler.js'
import { createTripwire, type TripwireController } from './controller.js'
import type { RouteOf } from './route-of.js'
import type { TripwireOptions } from './types.js'

/** What an adapter does with a request: let the application have it, or leave it (Tripwire answered it). */
export type RequestDisposition = 'next' | 'handled'

/** Everything an HTTP framework adapter needs, on plain `node:http` objects. */
export interface TripwireHttp {
  readonly controller: TripwireController
  /** The admin API, or `undefined` when it is not mounted here (off, or on its own listener). */
  readonly admin: AdminHandler | undefined
  /**
   * Call for every request before the application's handler. Answers admin requests, starts captures for
   * signed headers. Returns `'next'` synchronously when there is nothing to wait for (the usual case, at the
   * cost of a header lookup and timing the response), otherwise a promise of what to do. The promise never
   * rejects. `routeOf(context)` names the route template the framework matched, asked once the response has
   * finished or its client gave up (for its latency), or a capture it started has ended.
   */
  handle<Context>(
    req: IncomingMessage,
    res: ServerResponse,
    routeOf: RouteOf<Context>,
    context: Context,
  ): 'next' | Promise<RequestDisposition>
}

/** Creates the controller (or adopts one) and the request hook around it. */
export function createTripwireHttp(options: TripwireOptions | TripwireController): TripwireHttp {
  const controller = isController(options) ? options : createTripwire(options)
  // with admin.listen the controller serves the admin API on its own listener, never on the application's port
  const config = controller.config.admin
  const mounted = config !== false && config.listen === undefined
  const admin = mounted ? createAdminHandler(controller) : undefined
  const prefix = mounted ? config.prefix : undefined
  const trigger = controller.headerTrigger
  const timing = controller.responseTiming

  return {
    controller,
    admin,
    handle(req, res, routeOf, context) {
      if (admin !== undefined && prefix !== undefined && isUnderPrefix(req.url, prefix)) {
        return admin(req, res).then(
          (handled): RequestDisposition => (handled ? 'handled' : 'next'),
          (): RequestDisposition => 'handled',
        )
      }
      // the latency that status() and the SLO rules are built from
      timing.start(req, res, routeOf, context)
      const pending = trigger.beforeRequest(req, res, routeOf, context)
      return pending === undefined ? 'next' : pending.then((): RequestDisposition => 'next')
    },
  }
}

/** A cheap prefix test for the hot path; the admin handler does the exact parsing. */
function isUnderPrefix(url: string | undefined, prefix: string): boolean {
  if (url === undefined || !url.startsWith(prefix)) return false
  const next = url.charCodeAt(prefix.length)
  return Number.isNaN(next) || next === 47 /* / */ || next === 63 /* ? */
}

function isController(value: unknown): value is TripwireController {
  return typeof value === 'object' && value !== null && 'headerTrigger' in value && 'config' in value
}
