/**
 * A response body's chunks. fetch's web stream is async-iterable in Node, but its types (without the DOM lib)
 * leave the chunks `any`; reading them through here keeps the type checker on the bytes.
 */
export function bodyChunks(response: Response): AsyncIterable<Uint8Array> {
  return (response.body ?? []) as AsyncIterable<Uint8Array>
}
