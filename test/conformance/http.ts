/** Plain HTTP for the suite: node:http sends paths exactly as written (fetch would normalise `..` away). */
import { request } from 'node:http'

export interface HttpResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
  text: string
  json<T = unknown>(): T
}

export function send(
  baseUrl: string,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<HttpResponse> {
  const { hostname, port } = new URL(baseUrl)
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, method, path, headers: options.headers ?? {} }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('error', reject)
      res.on('end', () => {
        const body = Buffer.concat(chunks)
        const text = body.toString('utf8')
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          text,
          json: <T>() => JSON.parse(text) as T,
        })
      })
    })
    req.setTimeout(15_000, () => req.destroy(new Error(`${method} ${path} timed out`)))
    req.on('error', reject)
    req.end(options.body)
  })
}

export const get = (baseUrl: string, path: string, headers: Record<string, string> = {}) =>
  send(baseUrl, 'GET', path, { headers })

/**
 * Sends a GET and gives up on it after `afterMs`, as a client's timeout or a proxy does: the connection is
 * closed before any response. Resolves once it is.
 */
export function getAndGiveUp(baseUrl: string, path: string, afterMs: number): Promise<void> {
  const { hostname, port } = new URL(baseUrl)
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, agent: false }, () =>
      reject(new Error(`GET ${path} was answered within ${afterMs} ms`)),
    )
    req.on('error', () => undefined)
    req.on('close', () => resolve())
    req.end()
    setTimeout(() => req.destroy(), afterMs)
  })
}
