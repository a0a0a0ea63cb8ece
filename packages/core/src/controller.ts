import { performance } from 'node:perf_hooks'
import { assertCaptureId, createCaptureId } from './capture-id.js'
import { runningCaptureMeta } from './capture-meta.js'
import {
  normalizeCaptureRequest,
  normalizeRequestInfo,
  type NormalizedCaptureRequest,
} from './capture-request.js'
import { CaptureBudget } from './capture-budget.js'
import { discardRecording, putFailure, putRecording } from './capture-store.js'
import { resolveConfig, type ResolvedConfig } from './config.js'
import { ErrorCodes, isTripwireError, TripwireError, type ErrorCode } from './errors.js'
import { currentLockHolder, tryAcquireCaptureLock, type LockHolder } from './process-lock.js'
import { startCpuRecorder } from './recorders/cpu.js'
import { startHeapRecorder } from './recorders/heap.js'
import { startHeapSnapshotRecorder } from './recorders/heap-snapshot.js'
import type { Recorder, Recording } from './recorders/recorder.js'
import { installShutdownSignals } from './shutdown-signals.js'
import { mapRecording } from './source-maps/map-recording.js'
import { defaultCpuIntervalUs } from './cpu-interval.js'
import { SourceMapCache } from './source-maps/source-map-cache.js'
import { AuditTrail } from './audit/audit-trail.js'
import { createAdminHandler } from './admin/admin-handler.js'
import { AdminListener, type AdminAddress } from './admin/admin-listener.js'
import { HeaderTrigger, type HeaderTriggerStatus } from './trigger/header-trigger.js'
import { AutomaticTriggers, type RuleStatus } from './automatic/automatic-triggers.js'
import type { RouteLatencyStats } from './latency/route-latency.js'
import { RouteLatencyTables } from './latency/route-latency-tables.js'
import { ResponseTiming } from './latency/response-timing.js'
import type {
  AuditStatus,
  CaptureMeta,
  CaptureRequestInfo,
  SinkListPage,
  SinkListQuery,
  StartCaptureRequest,
  StoredCapture,
  TripwireOptions,
} from './types.js'

/** What a caller may add to a running capture's metadata (adapters learn the route template late). */
export interface CaptureUpdate {
  request?: CaptureRequestInfo
}

/** A capture that is running, as its starter sees it. */
export interface CaptureHandle {
  readonly id: string
  /** The metadata as it was at start (status `running`). */
  readonly meta: CaptureMeta
  /** Adds to the running capture's metadata; ignored once the capture has ended. */
  annotate(update: CaptureUpdate): void
  /** Ends the capture now and resolves with its stored metadata. */
  stop(update?: CaptureUpdate): Promise<CaptureMeta>
  /** Resolves with the stored metadata (`completed`, `aborted` or `failed`) once the capture has ended. Never rejects. */
  readonly done: Promise<CaptureMeta>
}

/** Why starts were refused, by reason. */
export interface RefusalCounters {
  invalid: number
  disabled: number
  busy: number
  rateLimited: number
  cooldown: number
  unavailable: number
  profilerInUse: number
  insufficientMemory: number
  failedToStart: number
  closed: number
}

export interface TripwireCounters {
  started: number
  completed: number
  aborted: number
  failed: number
  refused: RefusalCounters
}

export interface TripwireStatus {
  service: string
  version: string
  pid: number
  /** `false` once a capture found the inspector unusable; `undefined` until something tried. */
  inspector: { available: boolean | undefined; reason?: string }
  /** This controller's running capture. */
  current?: CaptureMeta & { elapsedMs: number }
  /** Who holds the process-wide capture lock: this controller, another one, or a capture still starting. */
  lock?: LockHolder
  /** Captures that have ended and are being written to the sink. */
  storing: number
  limits: {
    maxDurationMs: number
    capturesPerHour: number
    capturesRemaining: number
    cooldownMs: number
    cooldownRemainingMs: number
    maxProfileBytes: number
  }
  kinds: { cpu: boolean; heap: boolean; heapsnapshot: boolean }
  counters: TripwireCounters
  /** The signed-header trigger: outcomes and refusals by reason. */
  trigger: HeaderTriggerStatus
  /** The automatic triggers (SLO rules, event loop, heap): their state and what they last saw. */
  rules: RuleStatus[]
  /** Dry run: rules log and count what would fire, and capture nothing. */
  dryRun: boolean
  /** Per route template over the last minute: count and p50/p90/p99 in ms. */
  routes: RouteLatencyStats[]
  /** What the audit trail has recorded. */
  audit: AuditStatus
  /** What the sink reports of itself, when it can (uploads pending, last error). */
  sink?: object
}

interface ActiveCapture {
  meta: CaptureMeta
  recorder: Recorder
  startedAtMono: number
  timer: NodeJS.Timeout | undefined
  releaseLock: () => void
  ending: Promise<CaptureMeta> | undefined
  /** Settles with `ending`; exists from the start so callers can await a capture that has not ended yet. */
  done: Promise<CaptureMeta>
  resolveDone: (meta: CaptureMeta) => void
}

type EndStatus = 'completed' | 'aborted'

/** The window of the per-route latency that status() shows. */
const STATUS_WINDOW_MS = 60_000
const LATENCY_SLICES = 6

/** Which counter a failed start goes to. */
const START_FAILURES: Partial<Record<ErrorCode, keyof RefusalCounters>> = {
  [ErrorCodes.INSPECTOR_UNAVAILABLE]: 'unavailable',
  [ErrorCodes.PROFILER_IN_USE]: 'profilerInUse',
  [ErrorCodes.INSUFFICIENT_MEMORY]: 'insufficientMemory',
}

/**
 * The one object per process that owns the inspector sessions and every bound: one capture at a time, the
 * duration cap, the capture budget and cooldown, the profile size bound, and an orderly `close()`.
 */
export class TripwireController {
  readonly config: ResolvedConfig
  /** The signed `x-trigger-profile` header, checked by every adapter before a request's handler. */
  readonly headerTrigger: HeaderTrigger
  /** Every trigger decision, download, view, stop and delete (see the `audit` option). */
  readonly audit: AuditTrail
  private readonly budget: CaptureBudget
  /**
   * Times the responses the adapters hand it (`start(req, res, routeOf, context)`) and records their latencies
   * here, as `recordLatency` does.
   */
  readonly responseTiming: ResponseTiming
  /** Per-route latency windows, one table per window length the SLO rules use (60 s for status always). */
  private readonly latency: RouteLatencyTables
  private readonly automatic: AutomaticTriggers
  /** Parsed source maps, kept across captures (bounded); undefined when mapping is off. */
  private readonly sourceMaps: SourceMapCache | undefined
  private active: ActiveCapture | undefined
  /** Captures that have ended and are on their way into the sink, by id. */
  private readonly storing = new Map<string, Promise<CaptureMeta>>()
  private closing: Promise<void> | undefined
  private inspectorProblem: string | undefined
  private inspectorWorked = false
  /** Start failures are warned about once per code: a misconfigured process must not flood its logs. */
  private readonly warnedCodes = new Set<string>()
  private readonly removeSignalHandlers: () => void
  /** The admin API's own listener, with `admin.listen`. */
  private readonly adminListener: AdminListener | undefined
  private readonly counters: TripwireCounters = {
    started: 0,
    completed: 0,
    aborted: 0,
    failed: 0,
    refused: {
      invalid: 0,
      disabled: 0,
      busy: 0,
      rateLimited: 0,
      cooldown: 0,
      unavailable: 0,
      profilerInUse: 0,
      insufficientMemory: 0,
      failedToStart: 0,
      closed: 0,
    },
  }

  constructor(options: TripwireOptions) {
    this.config = resolveConfig(options)
    this.audit = new AuditTrail(this.config.logger, this.config.audit)
    this.budget = new CaptureBudget(this.config.limits.capturesPerHour, this.config.limits.cooldownMs)
    this.headerTrigger = new HeaderTrigger(this)
    // six slices: a value leaves the window 50–60 s after it was recorded, at ~24 KB per tracked route
    this.latency = new RouteLatencyTables((windowMs) => ({
      maxRoutes: this.config.triggers.maxTrackedRoutes,
      window: { windowMs, subWindows: LATENCY_SLICES },
    }))
    this.latency.table(STATUS_WINDOW_MS)
    this.responseTiming = new ResponseTiming((method, route, ms, nowMs) =>
      this.latency.record(method, route, ms, nowMs),
    )
    this.automatic = new AutomaticTriggers(
      this,
      this.config.triggers,
      (windowMs) => this.latency.table(windowMs),
      this.config.logger,
    )
    this.automatic.start()
    this.sourceMaps = this.config.sourceMaps.enabled
      ? new SourceMapCache({ roots: [...this.config.sourceMaps.roots] })
      : undefined
    const { admin } = this.config
    this.adminListener =
      admin !== false && admin.listen !== undefined
        ? new AdminListener(createAdminHandler(this), admin.listen, admin.prefix, this.config.logger)
        : undefined
    this.removeSignalHandlers = installShutdownSignals(
      this.config.shutdownSignals,
      () => this.close(),
      this.config.logger,
    )
  }

  /**
   * Starts a capture. Every refusal (busy, rate limited, cooling down, invalid, unavailable) rejects with a
   * coded `TripwireError`; the busy and budget decisions are taken synchronously, before the first await, so
   * concurrent callers in one tick cannot both win.
   */
  async start(input?: StartCaptureRequest): Promise<CaptureHandle> {
    const trigger = input?.trigger
    const who = {
      trigger: trigger?.type ?? 'api',
      reason: typeof trigger?.reason === 'string' ? trigger.reason : 'programmatic capture',
      ...(typeof trigger?.subject === 'string' && { subject: trigger.subject }),
      ...(input?.kind !== undefined && { kind: input.kind }),
    }
    try {
      const handle = await this.startCapture(input)
      this.audit.record({
        type: 'trigger',
        outcome: 'allowed',
        ...who,
        kind: handle.meta.kind,
        captureId: handle.id,
      })
      return handle
    } catch (error) {
      const code = isTripwireError(error) ? error.code : ErrorCodes.INSPECTOR_FAILED
      this.audit.record({ type: 'trigger', outcome: 'refused', ...who, code })
      throw error
    }
  }

  private async startCapture(input: StartCaptureRequest | undefined): Promise<CaptureHandle> {
    if (this.closing !== undefined) throw this.refuse('closed', ErrorCodes.CLOSED, 'tripwire is closed')
    let request: NormalizedCaptureRequest
    try {
      request = normalizeCaptureRequest(input, this.config)
    } catch (error) {
      this.counters.refused[
        isTripwireError(error) && error.code === ErrorCodes.KIND_DISABLED ? 'disabled' : 'invalid'
      ]++
      throw error
    }

    const startedAt = new Date()
    const id = createCaptureId(request.kind, startedAt)
    const lock = tryAcquireCaptureLock({
      id,
      kind: request.kind,
      startedAt: startedAt.toISOString(),
      ...(request.mode !== 'instant' && { endsBy: startedAt.getTime() + request.durationMs }),
    })
    if ('heldBy' in lock) {
      // the holder may be another controller or another copy of core: the lock itself says when it ends
      const { endsBy } = lock.heldBy
      const retryAfterMs = endsBy === undefined ? undefined : Math.max(1, endsBy - Date.now())
      throw this.refuse(
        'busy',
        ErrorCodes.BUSY,
        `a capture is already running (${lock.heldBy.id})`,
        retryAfterMs,
      )
    }
    const gate = this.budget.check()
    if (!gate.ok) {
      lock.release()
      if (gate.reason === 'cooldown') {
        const message = `the cooldown after the last capture has ${gate.retryAfterMs} ms to go`
        throw this.refuse('cooldown', ErrorCodes.COOLDOWN, message, gate.retryAfterMs)
      }
      const message = `the capture budget (${this.config.limits.capturesPerHour} per hour) is spent`
      throw this.refuse('rateLimited', ErrorCodes.RATE_LIMITED, message, gate.retryAfterMs)
    }

    let recorder: Recorder
    try {
      recorder = await this.startRecorder(request)
    } catch (error) {
      lock.release()
      throw this.startFailed(error)
    }
    if (this.closing !== undefined) {
      recorder.discard()
      lock.release()
      throw this.refuse('closed', ErrorCodes.CLOSED, 'tripwire was closed while the capture was starting')
    }

    this.inspectorWorked = true
    this.budget.spend()
    this.counters.started++
    const capture = this.activate(
      runningCaptureMeta(id, startedAt, request, this.config),
      recorder,
      lock.release,
    )
    if (request.mode === 'instant') {
      // a heap snapshot stops the event loop for seconds: let the caller answer (202, x-profile-id) first
      setImmediate(() => void this.end(capture, 'completed'))
    } else {
      // window: the planned end; request/manual: the cap. Not unref'd, on purpose: a process that would exit
      // naturally mid-capture (a script awaiting `done`, a server drained by server.close()) finishes and stores
      // the capture first, at most maxDurationMs later, rather than losing it. close() ends it at once.
      capture.timer = setTimeout(() => void this.end(capture, 'completed'), request.durationMs)
    }
    this.config.logger.info('tripwire: capture started', {
      id,
      kind: request.kind,
      trigger: request.trigger.type,
    })
    return {
      id,
      meta: structuredClone(capture.meta),
      annotate: (update) => this.annotate(capture, update),
      stop: (update) => {
        if (update !== undefined) this.annotate(capture, update)
        return this.end(capture, 'completed')
      },
      done: capture.done,
    }
  }

  /**
   * Records one request's latency under its route template (never the raw URL), for an integration that times
   * requests itself; the adapters let `responseTiming` time them. It costs two map lookups and a histogram
   * increment for every window length together.
   */
  recordLatency(method: string, route: string | undefined, ms: number, nowMs = performance.now()): void {
    this.latency.record(method, route, ms, nowMs)
  }

  /** One evaluation of the automatic triggers now, instead of on the next tick (tests, operators' scripts). */
  evaluateTriggers(): Promise<void> {
    return this.automatic.evaluate()
  }

  /** Ends the running capture with this id early; it is stored like any other. */
  async stop(id: string): Promise<CaptureMeta> {
    assertCaptureId(id)
    const capture = this.active
    if (capture === undefined || capture.meta.id !== id) {
      throw new TripwireError(ErrorCodes.NOT_RUNNING, `no running capture has the id ${id}`)
    }
    return this.end(capture, 'completed')
  }

  /** The running capture's metadata, if one is running. */
  current(): CaptureMeta | undefined {
    return this.active === undefined ? undefined : structuredClone(this.active.meta)
  }

  /**
   * A capture's metadata wherever it is: running, being stored (waits until it is stored), or in the sink.
   * Between the end of a capture and its arrival in the sink neither `current()` nor the sink knows it.
   */
  async find(id: string): Promise<CaptureMeta | undefined> {
    assertCaptureId(id)
    if (this.active?.meta.id === id) return structuredClone(this.active.meta)
    const { sink } = this.config
    if (sink.getMeta !== undefined) {
      await this.storing.get(id)
      return sink.getMeta(id)
    }
    const stored = await this.get(id)
    stored?.body.destroy()
    return stored?.meta
  }

  /** Whether this capture has ended and is still on its way into the sink. */
  isStoring(id: string): boolean {
    return this.storing.has(id)
  }

  /** The stored capture; waits first if it is on its way into the sink. The caller must consume or destroy the body. */
  async get(id: string): Promise<StoredCapture | undefined> {
    assertCaptureId(id)
    await this.storing.get(id)
    return this.config.sink.get(id)
  }

  async list(query: SinkListQuery): Promise<SinkListPage> {
    return this.config.sink.list(query)
  }

  async delete(id: string): Promise<boolean> {
    assertCaptureId(id)
    return this.config.sink.delete(id)
  }

  status(): TripwireStatus {
    const { limits, heapSnapshot } = this.config
    const status: TripwireStatus = {
      service: this.config.service,
      version: this.config.version,
      pid: process.pid,
      inspector: this.inspectorStatus(),
      storing: this.storing.size,
      limits: {
        maxDurationMs: limits.maxDurationMs,
        capturesPerHour: limits.capturesPerHour,
        capturesRemaining: this.budget.remaining(),
        cooldownMs: limits.cooldownMs,
        cooldownRemainingMs: this.budget.cooldownRemainingMs(),
        maxProfileBytes: limits.maxProfileBytes,
      },
      kinds: { cpu: true, heap: true, heapsnapshot: heapSnapshot.enabled },
      counters: structuredClone(this.counters),
      trigger: this.headerTrigger.status(),
      rules: this.automatic.status(),
      dryRun: this.config.triggers.dryRun,
      routes: this.latency.table(STATUS_WINDOW_MS).stats(),
      audit: this.audit.status(),
    }
    const sinkStatus = this.sinkStatus()
    if (sinkStatus !== undefined) status.sink = sinkStatus
    const holder = currentLockHolder()
    if (holder !== undefined) status.lock = { ...holder }
    if (this.active !== undefined) {
      const elapsedMs = Math.round(performance.now() - this.active.startedAtMono)
      status.current = { ...structuredClone(this.active.meta), elapsedMs }
    }
    return status
  }

  /**
   * Stops a running capture (stored as `aborted`), then waits for every capture to reach the sink and for the
   * sink to close, all within `closeTimeoutMs`. Later `start()` calls are refused. Idempotent.
   */
  /**
   * Where the admin API's own listener (`admin.listen`) accepts connections, once it does. Rejects with
   * ERR_TRIPWIRE_ADMIN_LISTEN_FAILED when it could not listen, and ERR_TRIPWIRE_INVALID_REQUEST when the admin
   * API has no listener of its own (it is served on the application's port, or not at all).
   */
  adminAddress(): Promise<AdminAddress> {
    if (this.adminListener === undefined) {
      return Promise.reject(
        new TripwireError(
          ErrorCodes.INVALID_REQUEST,
          'the admin API has no listener of its own: set admin.listen to serve it on a separate port',
        ),
      )
    }
    return this.adminListener.address()
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  private async shutdown(): Promise<void> {
    this.removeSignalHandlers()
    this.responseTiming.close()
    this.automatic.stop()
    this.audit.flush()
    await this.adminListener?.close()
    if (this.active !== undefined) void this.end(this.active, 'aborted')
    const deadline = performance.now() + this.config.closeTimeoutMs
    const stored = await settlesBefore(Promise.allSettled([...this.storing.values()]), deadline)
    const sinkClosed = await settlesBefore(
      Promise.resolve(this.config.sink.close?.()).catch((error: unknown) => {
        this.config.logger.error('tripwire: closing the sink failed', { error: String(error) })
      }),
      deadline,
    )
    if (!stored || !sinkClosed) {
      throw new TripwireError(
        ErrorCodes.CLOSE_TIMEOUT,
        `${stored ? 'the sink was still closing' : 'a capture was still being stored'} after closeTimeoutMs (${this.config.closeTimeoutMs} ms)`,
      )
    }
  }

  /** A sink that fails to describe itself must not break status. */
  private sinkStatus(): object | undefined {
    try {
      return this.config.sink.status?.()
    } catch (error) {
      return { error: String(error) }
    }
  }

  private startRecorder(request: NormalizedCaptureRequest): Promise<Recorder> {
    switch (request.kind) {
      case 'cpu':
        return startCpuRecorder(request.samplingIntervalUs ?? defaultCpuIntervalUs(undefined))
      case 'heap':
        return startHeapRecorder(this.config.heap)
      case 'heapsnapshot':
        return startHeapSnapshotRecorder(this.config.heapSnapshot)
    }
  }

  private activate(meta: CaptureMeta, recorder: Recorder, releaseLock: () => void): ActiveCapture {
    let resolveDone!: (meta: CaptureMeta) => void
    const capture: ActiveCapture = {
      meta,
      recorder,
      startedAtMono: performance.now(),
      timer: undefined,
      releaseLock,
      ending: undefined,
      done: new Promise<CaptureMeta>((resolve) => (resolveDone = resolve)),
      resolveDone: (stored) => resolveDone(stored),
    }
    this.active = capture
    return capture
  }

  private annotate(capture: ActiveCapture, update: CaptureUpdate): void {
    if (capture.ending !== undefined) return
    try {
      if (update.request !== undefined) capture.meta.request = normalizeRequestInfo(update.request)
    } catch (error) {
      // an adapter's odd route must not break the capture: it is stored without it
      this.config.logger.debug('tripwire: ignored a capture update', {
        id: capture.meta.id,
        error: String(error),
      })
    }
  }

  /** Ends a capture once, however many callers ask (timer, stop, close). */
  private end(capture: ActiveCapture, status: EndStatus): Promise<CaptureMeta> {
    if (capture.ending === undefined) {
      const ending = this.finishAndStore(capture, status).catch((error: unknown) =>
        putFailure(
          this.config.sink,
          this.config.logger,
          structuredClone(capture.meta),
          error,
          ErrorCodes.INSPECTOR_FAILED,
        ),
      )
      capture.ending = ending
      this.storing.set(capture.meta.id, ending)
      void ending.then((meta) => {
        this.storing.delete(capture.meta.id)
        capture.resolveDone(meta)
      })
    }
    return capture.ending
  }

  private async finishAndStore(capture: ActiveCapture, status: EndStatus): Promise<CaptureMeta> {
    clearTimeout(capture.timer)
    const meta = structuredClone(capture.meta)
    let recording: Recording
    try {
      recording = await capture.recorder.finish()
    } catch (error) {
      this.counters.failed++
      return putFailure(this.config.sink, this.config.logger, meta, error, ErrorCodes.INSPECTOR_FAILED)
    } finally {
      // the profiler is free again once the recorder has stopped: storing does not hold the lock
      meta.endedAt = new Date().toISOString()
      meta.durationMs = Math.round(performance.now() - capture.startedAtMono)
      capture.releaseLock()
      if (this.active === capture) this.active = undefined
      this.budget.startCooldown()
    }

    const { maxProfileBytes } = this.config.limits
    if (meta.kind !== 'heapsnapshot' && recording.bytes > maxProfileBytes) {
      await discardRecording(recording)
      this.counters.failed++
      const tooLarge = new TripwireError(
        ErrorCodes.PROFILE_TOO_LARGE,
        `the profile is ${recording.bytes} bytes, over limits.maxProfileBytes (${maxProfileBytes}); ` +
          'take shorter captures or a longer sampling interval',
      )
      return putFailure(this.config.sink, this.config.logger, meta, tooLarge, ErrorCodes.PROFILE_TOO_LARGE)
    }

    if (this.sourceMaps !== undefined) {
      // after the profiler is free and off the request path; the stored profile names the original sources
      const mapped = await mapRecording(meta.kind, recording, this.sourceMaps, maxProfileBytes)
      if (mapped !== undefined) {
        recording = mapped.recording
        meta.sourceMaps = { frames: mapped.frames.total, mapped: mapped.frames.mapped }
      }
    }
    meta.status = status
    meta.bytes = recording.bytes
    meta.sha256 = recording.sha256
    if (recording.sampling !== undefined) meta.sampling = recording.sampling
    try {
      await putRecording(this.config.sink, meta, recording)
    } catch (error) {
      this.counters.failed++
      return putFailure(this.config.sink, this.config.logger, meta, error, ErrorCodes.SINK_IO)
    }
    this.counters[status]++
    this.config.logger.info('tripwire: capture stored', { id: meta.id, status, bytes: meta.bytes })
    return meta
  }

  private startFailed(error: unknown): TripwireError {
    const coded = isTripwireError(error)
      ? error
      : new TripwireError(ErrorCodes.INSPECTOR_FAILED, `the capture could not start: ${String(error)}`, {
          cause: error,
        })
    if (coded.code === ErrorCodes.INSPECTOR_UNAVAILABLE) this.inspectorProblem = coded.message
    this.counters.refused[START_FAILURES[coded.code] ?? 'failedToStart']++
    if (!this.warnedCodes.has(coded.code)) {
      this.warnedCodes.add(coded.code)
      this.config.logger.warn('tripwire: a capture could not start (warned once per cause)', coded.toJSON())
    }
    return coded
  }

  private refuse(
    counter: keyof RefusalCounters,
    code: ErrorCode,
    message: string,
    retryAfterMs?: number,
  ): TripwireError {
    this.counters.refused[counter]++
    return new TripwireError(code, message, retryAfterMs === undefined ? {} : { retryAfterMs })
  }

  private inspectorStatus(): TripwireStatus['inspector'] {
    if (!process.features.inspector)
      return { available: false, reason: 'this Node.js was built without the inspector' }
    if (this.inspectorProblem !== undefined) return { available: false, reason: this.inspectorProblem }
    return { available: this.inspectorWorked ? true : undefined }
  }
}

/** Whether `promise` settles before the monotonic `deadline`. */
async function settlesBefore(promise: Promise<unknown>, deadline: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, deadline - performance.now()))
  })
  try {
    return await Promise.race([promise.then(() => true as const), late])
  } finally {
    clearTimeout(timer)
  }
}

/** Creates the controller. One per process is the intended use; several share one capture lock. */
export function createTripwire(options: TripwireOptions): TripwireController {
  return new TripwireController(options)
}
