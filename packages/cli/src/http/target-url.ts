import { usageError } from '../cli-error.js'

/**
 * An http(s) URL from the command line. Credentials in it (`user:pass@`) are refused: fetch would refuse them
 * anyway, and they would show in ps and in shell history.
 */
export function parseHttpUrl(raw: string, name: string): URL {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw usageError(`${name} is not a URL; give it whole, as in http://127.0.0.1:3000/_tripwire`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw usageError(`${name} must start with http:// or https:// (got ${url.protocol}//)`)
  }
  if (url.username !== '' || url.password !== '') {
    throw usageError(`${name} must not hold user:password@; Tripwire authenticates with tokens`)
  }
  return url
}

/**
 * `<admin-url>/<path>?<query>`: the admin URL is the prefix (`…/_tripwire`), with or without a trailing slash;
 * its own query string is dropped, as no admin route reads one from the prefix. Undefined values are left out.
 */
export function adminUrl(
  base: URL,
  path: string,
  query: Readonly<Record<string, string | undefined>> = {},
): URL {
  const url = new URL(base)
  url.pathname = `${base.pathname.replace(/\/+$/, '')}/${path}`
  url.search = ''
  url.hash = ''
  for (const [name, value] of Object.entries(query))
    if (value !== undefined) url.searchParams.set(name, value)
  return url
}
