import type { Context, Middleware, Next } from 'koa'
import {
  createTripwireHttp,
  ERROR_HEADER,
  ID_HEADER,
  STATUS_HEADER,
  type RequestDisposition,
  type TripwireController,
  type TripwireOptions,
} from '@tripwire/core'

const PROFILE_HEADERS = [STATUS_HEADER, ID_HEADER, ERROR_HEADER] as const

/** The middleware, carrying the controller it created for programmatic captures and shutdown. */
export interface TripwireMiddleware extends Middleware {
  readonly tripwire: TripwireController
}

/**
 * Tripwire for Koa 2 and 3: `app.use(tripwire({ service, keys }))`, first (before body parsers and routers).
 * It answers the admin API under its prefix and honours the signed `x-trigger-profile` header on every other
 * request. A request-mode capture ends when Koa has written the response, error responses included.
 */
export function tripwire(options: TripwireOptions | TripwireController): TripwireMiddleware {
  const http = createTripwireHttp(options)
  const middleware = (ctx: Context, next: Next): Promise<void> => {
    // the app's own handler, not ctx's: one a middleware set on this ctx alone must not be wrapped per request
    const { context } = ctx.app
    if ((context.onerror as Partial<CarryingOnerror>)[CARRIES_PROFILE_HEADERS] !== true) {
      carryProfileHeaders(context)
    }
    const disposition = http.handle(ctx.req, ctx.res, routeTemplate, ctx)
    // The usual request, a refused token's included: nothing to wait for. Handing Koa the next middleware's
    // promise itself spares an async frame and an await per request.
    if (disposition === 'next') return next() as Promise<void>
    return continueAfter(disposition, ctx, next)
  }
  return Object.assign(middleware, { tripwire: http.controller })
}

async function continueAfter(
  disposition: Promise<RequestDisposition>,
  ctx: Context,
  next: Next,
): Promise<void> {
  if ((await disposition) === 'handled') {
    // the admin API has answered on the raw response: Koa must not write one of its own
    ctx.respond = false
    return
  }
  return next() as Promise<void>
}

const CARRIES_PROFILE_HEADERS = Symbol('tripwire.carriesProfileHeaders')

type CarryingOnerror = Context['onerror'] & { [CARRIES_PROFILE_HEADERS]: true }

/**
 * Koa's error handler clears every header already set before it writes the error response, and applies only
 * `error.headers`. The app's `context` is the prototype of every `ctx` (Koa documents it for extending): its
 * `onerror` is wrapped once, to carry x-profile-status, x-profile-id and x-profile-error over on the error, so
 * the caller still learns its capture's id, and no request needs a rejection handler of its own. An `onerror`
 * the application sets later is wrapped in turn at its next request.
 */
function carryProfileHeaders(context: Context['app']['context']): void {
  // called below with each ctx as `this`, as Koa calls it
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const original = context.onerror
  const carrying = function (this: Context, error: unknown) {
    return original.call(this, keepProfileHeaders(error, this) as Error)
  }
  context.onerror = Object.assign(carrying, { [CARRIES_PROFILE_HEADERS]: true as const })
}

/** Adds the profile headers set on the response to the error's `headers`, which Koa's handler applies. */
function keepProfileHeaders(error: unknown, ctx: Context): unknown {
  if (typeof error !== 'object' || error === null) return error
  const carried: Record<string, string> = {}
  for (const name of PROFILE_HEADERS) {
    const value = ctx.res.getHeader(name)
    if (typeof value === 'string') carried[name] = value
  }
  if (Object.keys(carried).length === 0) return error
  const withHeaders = error as { headers?: Record<string, string> }
  withHeaders.headers = { ...withHeaders.headers, ...carried }
  return error
}

/** The template @koa/router matched (`/users/:id`, prefixes included), never the raw URL. */
function routeTemplate(ctx: Context): string | undefined {
  const route: unknown = (ctx as Context & { _matchedRoute?: unknown })._matchedRoute
  return typeof route === 'string' ? route : undefined
}

export type { TripwireController, TripwireOptions } from '@tripwire/core'
