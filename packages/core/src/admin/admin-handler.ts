import type { IncomingMessage, ServerResponse } from 'node:http'
import { Transform, type TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { assertCaptureId, isCaptureId, kindOfCaptureId } from '../capture-id.js'
import { CAPTURE_KINDS, captureFileName } from '../capture-kinds.js'
import type { ResolvedAdminConfig } from '../config.js'
import type { TripwireController } from '../controller.js'
import { ErrorCodes, isTripwireError, TripwireError } from '../errors.js'
import { assertPprofConvertible, convertCapture, pprofFileName } from '../formats/convert.js'
import type { AdminAction, CaptureMeta } from '../types.js'
import { AdminAuthenticator } from './admin-auth.js'
import { httpStatusForCode } from './error-status.js'
import { adminTarget, captureIdSegment, matchRoute, ROUTE_METHODS, type AdminRoute } from './admin-routes.js'
import { listCaptures, parseListQuery } from './list-captures.js'
import { sendViewerAsset, sendViewerPage } from '../viewer/serve-viewer.js'
import { readJsonBody, sendError, sendJson, sendNoContent, type ResponseHeaders } from './http-json.js'

/**
 * Serves the admin API for one controller. Resolves `false`, having touched nothing, when the request is
 * not under the admin prefix; otherwise answers it completely and resolves `true`. Never rejects.
 */
export type AdminHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>

const START_FIELDS = ['kind', 'durationMs', 'labels', 'reason', 'samplingIntervalUs'] as const
/** The controller's limit on free-text trigger fields. */
const TRIGGER_TEXT_LIMIT = 512

/**
 * Creates the admin API handler that every framework adapter mounts. Throws ERR_TRIPWIRE_INVALID_OPTIONS
 * when the controller's admin API is off (`admin: false`, or no keys and no `admin.authorize`).
 */
export function createAdminHandler(controller: TripwireController): AdminHandler {
  const { admin, logger } = controller.config
  if (admin === false) {
    throw new TripwireError(
      ErrorCodes.INVALID_OPTIONS,
      'the admin API is not enabled for this controller: give keys (Bearer tokens) or admin.authorize, ' +
        'and do not set admin: false',
    )
  }
  if (admin.insecureNoAuth) {
    logger.warn(
      `tripwire: the admin API at ${admin.prefix} answers WITHOUT authentication (admin.insecureNoAuth); ` +
        'anyone who can reach it can profile this process and download its memory. Local development only',
    )
  }
  const api = new AdminApi(controller, admin)
  return async (req, res) => {
    const target = adminTarget(req.url, admin.prefix)
    if (target === undefined) return false
    try {
      await api.handle(req, res, target.path, target.search, target.segments)
    } catch (error) {
      api.fail(req, res, error)
    }
    return true
  }
}

class AdminApi {
  private readonly auth: AdminAuthenticator
  constructor(
    private readonly controller: TripwireController,
    private readonly admin: ResolvedAdminConfig,
  ) {
    this.auth = new AdminAuthenticator(controller.config, admin)
  }

  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    search: string,
    segments: string[] | undefined,
  ): Promise<void> {
    const method = req.method ?? 'GET'
    const route = segments === undefined ? undefined : matchRoute(segments)
    const action: AdminAction = method === 'GET' || method === 'HEAD' ? 'read' : 'write'
    const url = new URL(`${path}${search}`, 'http://tripwire.invalid')

    const linkId =
      (route?.name === 'profile' || route?.name === 'flamegraph') && isCaptureId(route.id)
        ? route.id
        : undefined
    // Every path under the prefix needs credentials, so that nothing (not even which ids exist) leaks.
    const verdict = await this.auth.authorize(req, action, url, linkId)
    if (!verdict.ok) {
      this.controller.audit.refusedUnidentified('admin', verdict.reason)
      // an unread body would keep the connection busy for a caller who may not send one
      const close: ResponseHeaders = requestHasBody(req) ? { connection: 'close' } : {}
      if (verdict.status === 401) return this.unauthorized(res, verdict.message, close)
      return sendError(res, verdict, close)
    }

    if (segments === undefined) {
      throw new TripwireError(ErrorCodes.INVALID_REQUEST, 'the path holds a malformed %-escape')
    }
    const idSegment = captureIdSegment(segments)
    if (idSegment !== undefined) assertCaptureId(idSegment)
    if (route === undefined) {
      throw new TripwireError(
        ErrorCodes.NOT_FOUND,
        `there is no admin route ${JSON.stringify(path.slice(0, 120))}; the routes are ` +
          `${this.admin.prefix}/status, ${this.admin.prefix}/captures and ` +
          `${this.admin.prefix}/captures/:id[/stop|/profile|/flamegraph]`,
      )
    }
    const allowed = ROUTE_METHODS[route.name]
    if (!allowed.includes(method)) {
      return sendError(
        res,
        {
          code: ErrorCodes.METHOD_NOT_ALLOWED,
          message: `${method} is not allowed here; use ${allowed.join(' or ')}`,
        },
        { allow: allowed.join(', ') },
      )
    }
    // writes must say they are JSON: a cross-site form or no-cors fetch cannot, so it cannot start or stop
    // captures on the strength of a cookie an authorize hook trusts
    if (method === 'POST' && !isJsonRequest(req)) {
      throw new TripwireError(
        ErrorCodes.INVALID_REQUEST,
        'admin POST requests must be sent with content-type: application/json (an empty body is fine)',
      )
    }
    const caller = { subject: verdict.subject, expiresAtSec: verdict.expiresAtSec }
    await this.dispatch(
      req,
      res,
      route,
      method,
      url.searchParams,
      caller,
      mountBase(req, path, this.admin.prefix),
    )
  }

  private async dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    route: AdminRoute,
    method: string,
    params: URLSearchParams,
    caller: Caller,
    base: string,
  ): Promise<void> {
    const { subject } = caller
    switch (route.name) {
      case 'status':
        return sendJson(res, 200, this.controller.status())
      case 'captures':
        if (method === 'POST') return this.startCapture(req, res, subject, base)
        return sendJson(res, 200, await listCaptures(this.controller, parseListQuery(params)))
      case 'capture':
        if (method === 'DELETE') {
          return this.audited('delete', route.id, subject, () => this.deleteCapture(res, route.id, subject))
        }
        return this.sendMeta(res, route.id, caller, base)
      case 'stop':
        return this.audited('stop', route.id, subject, () => this.stopCapture(res, route.id, subject))
      case 'profile':
        return this.audited(
          'download',
          route.id,
          subject,
          () => this.sendProfile(res, route.id, params),
          params.get('format') ?? 'native',
        )
      case 'flamegraph':
        if (route.asset !== undefined) return sendViewerAsset(res, route.asset)
        return this.audited('view', route.id, subject, () => this.sendFlamegraph(res, route.id, caller, base))
    }
  }

  /** Runs what was asked of one capture, and puts it in the audit trail, allowed or refused (with the code). */
  private async audited(
    type: 'download' | 'view' | 'stop' | 'delete',
    captureId: string,
    subject: string | undefined,
    action: () => Promise<void>,
    format?: string,
  ): Promise<void> {
    const event = {
      type,
      captureId,
      ...(subject !== undefined && { subject }),
      ...(format !== undefined && { format: format.slice(0, 32) }),
    }
    try {
      await action()
    } catch (error) {
      const code = isTripwireError(error) ? error.code : ErrorCodes.INTERNAL
      this.controller.audit.record({ ...event, outcome: 'refused', code })
      throw error
    }
    this.controller.audit.record({ ...event, outcome: 'allowed' })
  }

  private async startCapture(
    req: IncomingMessage,
    res: ServerResponse,
    subject: string | undefined,
    base: string,
  ) {
    const body = (await readJsonBody(req, this.admin.bodyLimitBytes)) ?? {}
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new TripwireError(ErrorCodes.INVALID_REQUEST, 'the request body must be a JSON object')
    }
    const fields = body as Record<string, unknown>
    const request: Record<string, unknown> = {}
    for (const [name, value] of Object.entries(fields)) {
      if (!(START_FIELDS as readonly string[]).includes(name)) {
        throw new TripwireError(
          ErrorCodes.INVALID_REQUEST,
          `${JSON.stringify(name.slice(0, 80))} is not a field of a capture request; ` +
            `the fields are ${START_FIELDS.join(', ')}`,
        )
      }
      if (value === null) {
        throw new TripwireError(
          ErrorCodes.INVALID_REQUEST,
          `${name} may not be null; omit it for the default`,
        )
      }
      if (name !== 'reason') request[name] = value
    }
    const { reason } = fields
    if (
      reason !== undefined &&
      (typeof reason !== 'string' || reason === '' || reason.length > TRIGGER_TEXT_LIMIT)
    ) {
      throw new TripwireError(
        ErrorCodes.INVALID_REQUEST,
        `reason must be a non-empty string of at most ${TRIGGER_TEXT_LIMIT} characters`,
      )
    }
    request.trigger = {
      type: 'admin',
      reason: reason ?? 'admin API',
      // a token's sub is recorded for audit; one the controller would refuse must not refuse the capture
      ...(subject !== undefined && subject !== '' && { subject: subject.slice(0, TRIGGER_TEXT_LIMIT) }),
    }
    // the controller checks every field's type and range, as it does for every other caller
    const handle = await this.controller.start(request)
    sendJson(res, 202, handle.meta, { location: `${base}/captures/${handle.id}` })
  }

  private running(id: string): CaptureMeta | undefined {
    const current = this.controller.current()
    return current?.id === id ? current : undefined
  }

  private async sendMeta(res: ServerResponse, id: string, caller: Caller, base: string): Promise<void> {
    const meta = await this.controller.find(id)
    if (meta === undefined) throw notFound(id)
    if (meta.status !== 'completed' && meta.status !== 'aborted') return sendJson(res, 200, meta)
    const token = encodeURIComponent(this.auth.signLink(id, caller))
    const capture = `${base}/captures/${id}`
    sendJson(res, 200, {
      ...meta,
      links: {
        profile: `${capture}/profile?token=${token}`,
        ...(kindOfCaptureId(id) !== 'heapsnapshot' && { flamegraph: `${capture}/flamegraph?token=${token}` }),
      },
    })
  }

  /**
   * The viewer page. Its script, stylesheet and profile download are fetched by a browser that sends no
   * Authorization header, so each URL carries a fresh link for this capture (never outliving the caller's own
   * credentials, which may themselves be such a link).
   */
  private async sendFlamegraph(res: ServerResponse, id: string, caller: Caller, base: string): Promise<void> {
    if (this.running(id) !== undefined) {
      throw new TripwireError(ErrorCodes.CAPTURE_STATE, `capture ${id} is still running; stop it or wait`)
    }
    const meta = await this.controller.find(id)
    if (meta === undefined) throw notFound(id)
    if (meta.status !== 'completed' && meta.status !== 'aborted') {
      const cause = meta.error === undefined ? '' : ` (${meta.error.code}: ${meta.error.message})`
      throw new TripwireError(
        ErrorCodes.CAPTURE_STATE,
        `capture ${id} is ${meta.status} and has no profile to show${cause}`,
      )
    }
    // the kind comes from the id, as for downloads: stored metadata may have been altered in a shared store
    const kind = kindOfCaptureId(id)
    if (kind === 'heapsnapshot') {
      throw new TripwireError(
        ErrorCodes.FORMAT_UNAVAILABLE,
        `capture ${id} is a heap snapshot, which has no flame graph: download it (…/profile) and open it in ` +
          "Chrome DevTools' Memory tab",
      )
    }
    const token = encodeURIComponent(this.auth.signLink(id, caller))
    const capture = `${base}/captures/${id}`
    await sendViewerPage(res, {
      config: {
        id,
        kind,
        title: `${meta.service} · ${kind === 'cpu' ? 'CPU' : 'heap'} · ${id}`,
        profileUrl: `${capture}/profile?token=${token}`,
        status: meta.status,
        service: meta.service,
        startedAt: meta.startedAt,
        trigger: `${meta.trigger.type}: ${meta.trigger.reason}`,
      },
      scriptUrl: `${capture}/flamegraph/flamegraph.js?token=${token}`,
      stylesheetUrl: `${capture}/flamegraph/flamegraph.css?token=${token}`,
    })
  }

  private async stopCapture(res: ServerResponse, id: string, subject: string | undefined): Promise<void> {
    let meta: CaptureMeta
    try {
      meta = await this.controller.stop(id)
    } catch (error) {
      if (!isTripwireError(error) || error.code !== ErrorCodes.NOT_RUNNING) throw error
      const ended = await this.controller.find(id)
      if (ended === undefined) throw notFound(id)
      throw new TripwireError(
        ErrorCodes.CAPTURE_STATE,
        `capture ${id} is not running: it has ${ended.status}`,
      )
    }
    this.controller.config.logger.info('tripwire: capture stopped through the admin API', { id, subject })
    sendJson(res, 200, meta)
  }

  private async deleteCapture(res: ServerResponse, id: string, subject: string | undefined): Promise<void> {
    if (this.running(id) !== undefined || this.controller.isStoring(id)) {
      throw new TripwireError(
        ErrorCodes.CAPTURE_STATE,
        `capture ${id} is still running or being stored; stop it first (POST …/captures/${id}/stop)`,
      )
    }
    if (!(await this.controller.delete(id))) throw notFound(id)
    this.controller.config.logger.info('tripwire: capture deleted through the admin API', { id, subject })
    sendNoContent(res)
  }

  private async sendProfile(res: ServerResponse, id: string, params: URLSearchParams): Promise<void> {
    const format = params.get('format') ?? 'native'
    if (format !== 'native' && format !== 'pprof') {
      throw new TripwireError(
        ErrorCodes.INVALID_REQUEST,
        `format must be "native" or "pprof", got ${JSON.stringify(format.slice(0, 40))}`,
      )
    }
    if (this.running(id) !== undefined) {
      throw new TripwireError(ErrorCodes.CAPTURE_STATE, `capture ${id} is still running; stop it or wait`)
    }
    // the metadata decides first: a body is opened only when it will be streamed
    const meta = await this.controller.find(id)
    if (meta === undefined) throw notFound(id)
    if (meta.status === 'failed') {
      const cause = meta.error === undefined ? '' : ` (${meta.error.code}: ${meta.error.message})`
      throw new TripwireError(ErrorCodes.CAPTURE_STATE, `capture ${id} failed and has no profile${cause}`)
    }
    if (format === 'pprof') {
      // the kind comes from the id, as for native downloads; refused before a body is opened (a snapshot can
      // be gigabytes)
      const kind = kindOfCaptureId(id)
      assertPprofConvertible(kind)
      const { maxProfileBytes } = this.controller.config.limits
      if (meta.bytes > maxProfileBytes) {
        throw new TripwireError(
          ErrorCodes.PROFILE_TOO_LARGE,
          `capture ${id} is ${meta.bytes} bytes, over limits.maxProfileBytes (${maxProfileBytes}) for pprof ` +
            'conversion; download format=native instead',
        )
      }
      const stored = await this.controller.get(id)
      if (stored === undefined) throw notFound(id)
      // converting needs the whole profile; it is bounded by maxProfileBytes, and exactLength cuts one that
      // is not the size its metadata says
      const chunks: Buffer[] = []
      await pipeline(stored.body, exactLength(meta.bytes), async (source: AsyncIterable<Buffer>) => {
        for await (const chunk of source) chunks.push(chunk)
      })
      const pprof = await convertCapture({ ...meta, kind }, Buffer.concat(chunks), {
        maxBytes: maxProfileBytes,
      })
      // the file itself is gzip, so no content-encoding: clients save it as it is, ready for go tool pprof
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': pprof.length,
        'content-disposition': `attachment; filename="${pprofFileName(id)}"`,
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-store',
      })
      res.end(pprof)
      return
    }
    // a sink that can hand out a direct, short-lived URL (S3 presigned) spares this process the bytes
    const direct = await this.controller.config.sink.downloadUrl?.(id)
    if (direct !== undefined) {
      res.writeHead(302, { location: direct, 'cache-control': 'no-store' })
      res.end()
      return
    }
    const stored = await this.controller.get(id)
    if (stored === undefined) throw notFound(id)
    const { body } = stored
    // names and types come from the id, not from stored metadata that a shared store could have altered
    try {
      res.writeHead(200, {
        'content-type': CAPTURE_KINDS[meta.kind].contentType,
        'content-length': meta.bytes,
        'content-disposition': `attachment; filename="${captureFileName(id, kindOfCaptureId(id))}"`,
        'x-content-type-options': 'nosniff',
        etag: `"${/^[0-9a-f]{64}$/.test(meta.sha256) ? meta.sha256 : ''}"`,
        'cache-control': 'no-store',
      })
    } catch (error) {
      body.destroy()
      throw error
    }
    try {
      await pipeline(body, exactLength(meta.bytes), res)
    } catch (error) {
      // pipeline has destroyed the response: the client sees a cut connection, never a short 200
      if (!res.destroyed) res.destroy()
      if (!isClientGone(error)) {
        this.controller.config.logger.error('tripwire: a profile download failed midway', {
          id,
          error: String(error),
        })
      }
    }
  }

  private unauthorized(res: ServerResponse, message: string, headers: ResponseHeaders): void {
    sendError(res, { code: ErrorCodes.UNAUTHORIZED, message }, { ...headers, 'www-authenticate': 'Bearer' })
  }

  /** Answers whatever `handle` threw; an unexpected error is logged and answered with a bare 500. */
  fail(req: IncomingMessage, res: ServerResponse, error: unknown): void {
    const coded = isTripwireError(error) ? error : undefined
    if (coded === undefined || httpStatusForCode(coded.code) === 500) {
      if (!isClientGone(error) && !req.destroyed) {
        this.controller.config.logger.error('tripwire: the admin API failed', {
          method: req.method,
          error: error instanceof Error ? (error.stack ?? error.message) : String(error),
        })
      }
    }
    if (res.headersSent || res.destroyed) {
      res.destroy()
      return
    }
    try {
      sendError(
        res,
        coded ?? {
          code: ErrorCodes.INTERNAL,
          message: "the admin API failed unexpectedly; the service's log has the details",
        },
      )
    } catch {
      res.destroy()
    }
  }
}

interface Caller {
  subject: string | undefined
  expiresAtSec: number | undefined
}

/**
 * Where the admin API is reachable from the client's side. Express strips a mount path (`app.use('/x', mw)`)
 * from `req.url` but keeps `req.originalUrl`: links and Location must carry it back.
 */
function mountBase(req: IncomingMessage, path: string, prefix: string): string {
  const original = (req as IncomingMessage & { originalUrl?: unknown }).originalUrl
  if (typeof original !== 'string') return prefix
  const originalPath = original.split('?')[0] ?? ''
  return originalPath.endsWith(path)
    ? `${originalPath.slice(0, originalPath.length - path.length)}${prefix}`
    : prefix
}

function isJsonRequest(req: IncomingMessage): boolean {
  return req.headers['content-type']?.split(';')[0]?.trim().toLowerCase() === 'application/json'
}

function requestHasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length']
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
}

function notFound(id: string): TripwireError {
  return new TripwireError(ErrorCodes.NOT_FOUND, `no capture has the id ${id}`)
}

function isClientGone(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || code === 'EPIPE'
}

/** Fails the stream unless exactly `bytes` pass, so a body that disagrees with its Content-Length is cut. */
function exactLength(bytes: number): Transform {
  let seen = 0
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      seen += chunk.length
      if (seen > bytes) callback(new Error(`the stored body is longer than its metadata's ${bytes} bytes`))
      else callback(null, chunk)
    },
    flush(callback: TransformCallback) {
      callback(
        seen === bytes ? null : new Error(`the stored body has ${seen} bytes, its metadata says ${bytes}`),
      )
    },
  })
}
