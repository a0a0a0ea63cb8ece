import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { createTripwireHttp, type TripwireController, type TripwireOptions } from '@tripwire/core'

/** The middleware, carrying the controller it created for programmatic captures and shutdown. */
export interface TripwireMiddleware extends RequestHandler {
  readonly tripwire: TripwireController
}

/**
 * Tripwire for Express 4 and 5: `app.use(tripwire({ service, keys }))`, before the routes (and before body
 * parsers, so the admin API can read its own JSON). It answers the admin API under its prefix and honours the
 * signed `x-trigger-profile` header on every other request. Pass a controller instead of options to share one.
 */
export function tripwire(options: TripwireOptions | TripwireController): TripwireMiddleware {
  const http = createTripwireHttp(options)
  const middleware = (req: Request, res: Response, next: NextFunction): void => {
    const disposition = http.handle(req, res, routeTemplate, req)
    if (disposition === 'next') return next()
    void disposition.then((then) => {
      if (then === 'next') next()
    })
  }
  return Object.assign(middleware, { tripwire: http.controller })
}

/** `req.baseUrl + req.route.path`: the template Express matched (`/users/:id`), never the raw URL. */
function routeTemplate(req: Request): string | undefined {
  const path: unknown = (req.route as { path?: unknown } | undefined)?.path
  // most routes are not under a mounted router: no new string (and no hashing it) for every request
  if (typeof path === 'string') return req.baseUrl === '' ? path : `${req.baseUrl}${path}`
  if (path instanceof RegExp) return `${req.baseUrl}${String(path)}`
  return undefined
}

export type { TripwireController, TripwireOptions } from '@tripwire/core'
