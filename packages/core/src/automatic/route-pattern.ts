/**
 * Route patterns of SLO rules: `GET /users/:id` exactly, or with `*` matching any run of characters
 * (`GET /api/*`, `* /health`, `*`). Compiled once; matched against route keys (`METHOD /template`).
 */
export function compileRoutePattern(pattern: string): (routeKey: string) => boolean {
  if (!pattern.includes('*')) return (routeKey) => routeKey === pattern
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*')
  const regex = new RegExp(`^${source}$`)
  return (routeKey) => regex.test(routeKey)
}
