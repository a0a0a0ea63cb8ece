/**
 * Names the route template a request matched (`/users/:id`, never the raw URL), read from wherever the
 * framework keeps it: `context` is the request, Koa's context, or whatever the adapter passes along. A function
 * per adapter and a context per request, rather than a closure made for every request.
 */
export type RouteOf<Context> = (context: Context) => string | undefined

/** The route, or `undefined` when the router throws while naming it: that must not break the response. */
export function routeOrUndefined<Context>(routeOf: RouteOf<Context>, context: Context): string | undefined {
  try {
    return routeOf(context)
  } catch {
    return undefined
  }
}
