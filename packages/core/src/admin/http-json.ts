import type { IncomingMessage, ServerResponse } from 'node:http'
import { ErrorCodes, TripwireError, type ErrorCode } from '../errors.js'
import { httpStatusForCode, retryAfterSeconds } from './error-status.js'

export type ResponseHeaders = Record<string, string | number>

const JSON_CONTENT_TYPE = 'application/json; charset=utf-8'

/** Answers with a JSON body; nothing the admin API returns may be cached by a proxy or a browser. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: ResponseHeaders = {},
): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    ...headers,
    'content-type': JSON_CONTENT_TYPE,
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  })
  res.end(text)
}

export function sendNoContent(res: ServerResponse): void {
  res.writeHead(204, { 'cache-control': 'no-store' })
  res.end()
}

/**
 * `{ "error": { code, message } }` with the status the code maps to (unless `status` says otherwise), and
 * `retry-after` when it is known.
 */
export function sendError(
  res: ServerResponse,
  error: { code: ErrorCode; message: string; retryAfterMs?: number | undefined },
  headers: ResponseHeaders = {},
  status = httpStatusForCode(error.code),
): void {
  const extra: ResponseHeaders = { ...headers }
  if (error.retryAfterMs !== undefined) extra['retry-after'] = retryAfterSeconds(error.retryAfterMs)
  // the rest of an oversized body is never read, so the connection cannot carry another request
  if (error.code === ErrorCodes.BODY_TOO_LARGE) extra.connection = 'close'
  sendJson(res, status, { error: { code: error.code, message: error.message } }, extra)
}

/**
 * Reads a JSON request body of at most `limitBytes`. Resolves `undefined` for a request without a body.
 * Rejects with INVALID_REQUEST (not JSON, malformed, not UTF-8) or BODY_TOO_LARGE, which is decided from
 * `content-length` when the client declares it, before a byte is read.
 */
export async function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  const contentType = req.headers['content-type']
  const declared = req.headers['content-length']
  const hasBody =
    req.headers['transfer-encoding'] !== undefined || (declared !== undefined && declared !== '0')
  if (contentType === undefined && !hasBody) return undefined
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase()
  if (mediaType !== 'application/json') {
    throw new TripwireError(
      ErrorCodes.INVALID_REQUEST,
      `the request body must be JSON: send it with content-type: application/json (got ${
        contentType === undefined ? 'no content-type' : JSON.stringify(contentType.slice(0, 80))
      })`,
    )
  }
  if (declared !== undefined && Number(declared) > limitBytes) throw bodyTooLarge(limitBytes)
  const parsed = alreadyParsedBody(req)
  if (parsed !== undefined) return parsed
  const bytes = await readBounded(req, limitBytes)
  if (bytes.length === 0) return undefined
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw new TripwireError(ErrorCodes.INVALID_REQUEST, 'the request body is not valid UTF-8')
  }
  try {
    return JSON.parse(text) as unknown
  } catch (error) {
    throw new TripwireError(
      ErrorCodes.INVALID_REQUEST,
      `the request body is not valid JSON (${error instanceof Error ? error.message : String(error)})`,
    )
  }
}

/**
 * A body parser mounted before Tripwire (`express.json()`) has read the stream and left the result on
 * `req.body`; the declared content-length was already checked against the limit.
 */
function alreadyParsedBody(req: IncomingMessage): unknown {
  if (!req.readableEnded) return undefined
  const { body } = req as IncomingMessage & { body?: unknown }
  return typeof body === 'object' && body !== null ? body : undefined
}

function bodyTooLarge(limitBytes: number): TripwireError {
  return new TripwireError(
    ErrorCodes.BODY_TOO_LARGE,
    `the request body is larger than ${limitBytes} bytes (admin.bodyLimitBytes)`,
  )
}

function readBounded(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  if (req.readableEnded) {
    // Waiting for an 'end' that already happened would leave the request hanging.
    return Promise.reject(
      new TripwireError(
        ErrorCodes.INVALID_REQUEST,
        'the request body was already read by something mounted before Tripwire, and not as JSON: ' +
          'mount Tripwire before body parsers',
      ),
    )
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const detach = (): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('close', onClose)
    }
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > limitBytes) {
        detach()
        // Discarding (not pausing) the rest lets the 413 reach the client before the connection closes;
        // leaving it unread makes the close a reset that can swallow the response.
        req.resume()
        reject(bodyTooLarge(limitBytes))
        return
      }
      chunks.push(chunk)
    }
    const onEnd = (): void => {
      detach()
      resolve(Buffer.concat(chunks, size))
    }
    const onError = (error: Error): void => {
      detach()
      reject(error)
    }
    const onClose = (): void => {
      detach()
      reject(new Error('the client closed the connection before sending the whole body'))
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('close', onClose)
  })
}
