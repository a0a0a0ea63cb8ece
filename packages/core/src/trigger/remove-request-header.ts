import { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'

/** Node's own fields of a request, by symbol: the parser's header count and the built `headersDistinct`. */
export interface RequestHeaderFields {
  count: symbol
  distinct: symbol
}

/**
 * Node builds `headersDistinct` (and `headers`, until first read) from `rawHeaders` when first read, taking as
 * many entries as the parser counted into a field of its own. A pair taken out of `rawHeaders` must come off
 * that count too, or the getter reads past the end of the list and throws; and a `headersDistinct` already
 * built must lose the header as well. Both fields are internal, keyed by symbols: found once here, on a
 * request whose `headersDistinct` has been read (present on Node 20, 22 and 24).
 */
function findNodeFields(): RequestHeaderFields | undefined {
  const probe = new IncomingMessage(null as unknown as Socket)
  void probe.headersDistinct
  const symbols = Object.getOwnPropertySymbols(probe)
  const count = symbols.find((key) => key.description === 'kHeadersCount')
  const distinct = symbols.find((key) => key.description === 'kHeadersDistinct')
  return count === undefined || distinct === undefined ? undefined : { count, distinct }
}

const NODE_FIELDS = findNodeFields()

/**
 * Takes a header (a lowercase name) out of `headers`, `rawHeaders` and `headersDistinct` alike. Should a
 * version of Node lack the fields, `headersDistinct` is built before the header is taken out of the raw list,
 * and the header deleted from it. `fields` is a parameter so that this fallback can be tested.
 */
export function removeRequestHeader(
  req: IncomingMessage,
  name: string,
  fields: RequestHeaderFields | undefined = NODE_FIELDS,
): void {
  delete req.headers[name]
  const own = req as unknown as Record<symbol, unknown>
  if (fields === undefined) delete req.headersDistinct[name]
  else {
    const distinct = own[fields.distinct] as Record<string, unknown> | null | undefined
    if (distinct) delete distinct[name]
  }
  const raw = req.rawHeaders
  let removed = 0
  for (let index = raw.length - 2; index >= 0; index -= 2) {
    // the length first: lowercasing every header name of every request carrying a token allocates
    const rawName = raw[index]!
    if (rawName.length === name.length && rawName.toLowerCase() === name) {
      raw.splice(index, 2)
      removed += 2
    }
  }
  if (fields !== undefined && removed > 0 && typeof own[fields.count] === 'number') {
    own[fields.count] = (own[fields.count] as number) - removed
  }
}
