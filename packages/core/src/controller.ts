import { createReadStream } from 'node:fs'
import { unlink } from 'node:fs/promises'
import type { Readable } from 'node:stream'
import { assertCaptureId, createCaptureId } from './capture-id.js'
import { EMPTY_SHA256, runningCaptureMeta } from './capture-meta.js'
import { normalizeCaptureRequest, type NormalizedCaptureRequest } from './capture-request.js'
import { CaptureBudget } from './capture-budget.js'
import { resolveConfig, type ResolvedConfig } from './config.js'
import { describeError, ErrorCodes, isTripwireError, TripwireError } from './errors.js'
import { tryAcquireCaptureLock } from './process-lock.js'
import { startCpuRecorder } from './recorders/cpu.js'
import { startHeapRecorder } from './recorders/heap.js'
import { startHeapSnapshotRecorder } from './recorders/heap-snapshot.js'
import type { Recorder, Recording } from './recorders/recorder.js'
import { installShutdownSignals } from './shutdown-signals.js'
import type {
  CaptureMeta,
  SinkListPage,
  SinkListQuery,
  StartCaptureRequest,
  StoredCapture,
  TripwireOptions,
} from './types.js'

/** A capture that is running, as its starter sees it. */
export interface CaptureHandle {
  readonly id: string
  /** The metadata as it was at start (status `running`). */
  readonly meta: CaptureMeta
  /** Ends the capture now and resolves with its stored metadata. */
  stop(): Promise<CaptureMeta>
  /** Resolves with the stored metadata (`completed`, `aborted` or `failed`) when the capture has ended. Never rejects. */
  readonly done: Promise<CaptureMeta>
}

export interface TripwireCounters {
  started: number
  completed: number
  aborted: number
  failed: number
  refused: {
    invalid: number
    disabled: number
    busy: number
    rateLimited: number
    cooldown: number
    unavailable: number
    closed: number
  }
}

export interface TripwireStatus {
  service: string
  version: string
  pid: number
  /** `false` once a capture found the inspector unusable; `undefined` until something tried. */
  inspector: { available: boolean | undefined; reason?: string }
  current?: CaptureMeta & { elapsedMs: number }
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

/**
 * The one object per process that owns the inspector sessions and every bound: one capture at a time, the
 * duration cap, the capture budget and cooldown, the profile size bound, and an orderly `close()`.
 */
export class TripwireController {
  readonly config: ResolvedConfig
  private readonly budget: CaptureBudget
  private active: ActiveCapture | undefined
  private readonly storing = new Set<Promise<CaptureMeta>>()
  private closing: Promise<void> | undefined
  private inspectorProblem: string | undefined
  private inspectorWorked = false
  private readonly removeSignalHandlers: () => void
  private readonly counters: TripwireCounters = {
    started: 0,
    completed: 0,
    aborted: 0,
    failed: 0,
    refused: { invalid: 0, disabled: 0, busy: 0, rateLimited: 0, cooldown: 0, unavailable: 0, closed: 0 },
  }

  constructor(options: TripwireOptions) {
    this.config = resolveConfig(options)
    this.budget = new CaptureBudget(this.config.limits.capturesPerHour, this.config.limits.cooldownMs)
    this.removeSignalHandlers = installShutdownSignals(
      this.config.shutdownSignals,
      () => this.close(),
      this.config.logger,
    )
  }

  /**
   * Starts a capture. Every refusal (busy, rate limited, cooling down, invalid, unavailable) rejects with a
   * coded `TripwireError`; busy and rate-limit decisions are taken synchronously, before the first await, so
   * concurrent callers in one tick cannot both win.
   */
  async start(input?: StartCaptureRequest): Promise<CaptureHandle> {
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
      const { endsBy } = lock.heldBy
      // the holder may be another controller or another copy of core: the lock itself says when it ends
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
      const message =
        gate.reason === 'cooldown'
          ? `the cooldown after the last capture has ${gate.retryAfterMs} ms to go`
          : `the capture budget (${this.config.limits.capturesPerHour} per hour) is spent`
      const code = gate.reason === 'cooldown' ? ErrorCodes.COOLDOWN : ErrorCodes.RATE_LIMITED
      throw this.refuse(
        gate.reason === 'cooldown' ? 'cooldown' : 'rateLimited',
        code,
        message,
        gate.retryAfterMs,
      )
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
    let resolveDone!: (meta: CaptureMeta) => void
    const capture: ActiveCapture = {
      meta: runningCaptureMeta(id, startedAt, request, this.config),
      recorder,
      startedAtMono: performance.now(),
      timer: undefined,
      releaseLock: lock.release,
      ending: undefined,
      done: new Promise<CaptureMeta>((resolve) => (resolveDone = resolve)),
      resolveDone: (meta) => resolveDone(meta),
    }
    this.active = capture
    if (request.mode === 'instant') {
      void this.end(capture, 'completed')
    } else {
      // window: the planned end; request/manual: the cap. The timer keeps the process alive on purpose: a
      // script that awaits `done` gets its capture, and a natural exit stores it rather than losing it.
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
      stop: () => this.end(capture, 'completed'),
      done: capture.done,
    }
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

  get(id: string): Promise<StoredCapture | undefined> {
    assertCaptureId(id)
    return this.config.sink.get(id)
  }

  list(query: SinkListQuery): Promise<SinkListPage> {
    return this.config.sink.list(query)
  }

  delete(id: string): Promise<boolean> {
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
    }
    if (this.active !== undefined) {
      status.current = {
        ...structuredClone(this.active.meta),
        elapsedMs: Math.round(performance.now() - this.active.startedAtMono),
      }
    }
    return status
  }

  /**
   * Stops a running capture (stored as `aborted`), waits up to `closeTimeoutMs` for every capture to reach the
   * sink, then closes the sink. Later `start()` calls are refused. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  private async shutdown(): Promise<void> {
    this.removeSignalHandlers()
    if (this.active !== undefined) void this.end(this.active, 'aborted')
    const settled = Promise.allSettled([...this.storing]).then(() => true)
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), this.config.closeTimeoutMs)
    })
    const finished = await Promise.race([settled, deadline])
    clearTimeout(timer)
    await this.config.sink.close?.().catch((error: unknown) => {
      this.config.logger.error('tripwire: closing the sink failed', { error: String(error) })
    })
    if (!finished) {
      throw new TripwireError(
        ErrorCodes.CLOSE_TIMEOUT,
        `a capture was still being stored after closeTimeoutMs (${this.config.closeTimeoutMs} ms)`,
      )
    }
  }

  private startRecorder(request: NormalizedCaptureRequest): Promise<Recorder> {
    switch (request.kind) {
      case 'cpu':
        return startCpuRecorder(request.samplingIntervalUs ?? this.config.cpu.samplingIntervalUs)
      case 'heap':
        return startHeapRecorder(this.config.heap)
      case 'heapsnapshot':
        return startHeapSnapshotRecorder(this.config.heapSnapshot)
    }
  }

  /** Ends a capture once, however many callers ask (timer, stop, close). */
  private end(capture: ActiveCapture, status: EndStatus): Promise<CaptureMeta> {
    if (capture.ending === undefined) {
      const ending = this.finishAndStore(capture, status).catch((error: unknown) =>
        this.storeFailure(structuredClone(capture.meta), error),
      )
      capture.ending = ending
      this.storing.add(ending)
      void ending.then((meta) => {
        this.storing.delete(ending)
        capture.resolveDone(meta)
      })
    }
    return capture.ending
  }

  private async finishAndStore(capture: ActiveCapture, status: EndStatus): Promise<CaptureMeta> {
    clearTimeout(capture.timer)
    const meta = structuredClone(capture.meta)
    let recording: Recording | undefined
    let failure: unknown
    try {
      recording = await capture.recorder.finish()
    } catch (error) {
      failure = error
    } finally {
      // the profiler is free again once the recorder has stopped: storing does not hold the lock
      meta.endedAt = new Date().toISOString()
      meta.durationMs = Math.round(performance.now() - capture.startedAtMono)
      capture.releaseLock()
      if (this.active === capture) this.active = undefined
      this.budget.startCooldown()
    }
    if (
      recording !== undefined &&
      capture.meta.kind !== 'heapsnapshot' &&
      recording.bytes > this.config.limits.maxProfileBytes
    ) {
      failure = new TripwireError(
        ErrorCodes.PROFILE_TOO_LARGE,
        `the profile is ${recording.bytes} bytes, over limits.maxProfileBytes (${this.config.limits.maxProfileBytes}); ` +
          'take shorter captures or a longer sampling interval',
      )
    }
    if (failure === undefined && recording !== undefined) {
      meta.status = status
      meta.bytes = recording.bytes
      meta.sha256 = recording.sha256
      if (recording.sampling !== undefined) meta.sampling = recording.sampling
      try {
        await this.config.sink.put(meta, bodyOf(recording))
        this.counters[status]++
        this.config.logger.info('tripwire: capture stored', { id: meta.id, status, bytes: meta.bytes })
        return meta
      } catch (error) {
        failure = error
      } finally {
        await removeSpool(recording)
      }
    } else if (recording !== undefined) {
      await removeSpool(recording)
    }
    return this.storeFailure(meta, failure)
  }

  /** Records a failed capture (metadata, empty body) so that whoever asked can see what went wrong. */
  private async storeFailure(meta: CaptureMeta, failure: unknown): Promise<CaptureMeta> {
    this.counters.failed++
    meta.status = 'failed'
    meta.bytes = 0
    meta.sha256 = EMPTY_SHA256
    delete meta.sampling
    meta.error = describeError(failure, ErrorCodes.INSPECTOR_FAILED)
    this.config.logger.error('tripwire: capture failed', { id: meta.id, ...meta.error })
    try {
      await this.config.sink.put(meta, Buffer.alloc(0))
    } catch (error) {
      this.config.logger.error('tripwire: the sink could not record the failed capture', {
        id: meta.id,
        error: String(error),
      })
    }
    return meta
  }

  private startFailed(error: unknown): TripwireError {
    const coded = isTripwireError(error)
      ? error
      : new TripwireError(ErrorCodes.INSPECTOR_FAILED, `the capture could not start: ${String(error)}`, {
          cause: error,
        })
    if (coded.code === ErrorCodes.INSPECTOR_UNAVAILABLE) {
      this.inspectorProblem = coded.message
      this.counters.refused.unavailable++
    } else {
      this.counters.failed++
    }
    this.config.logger.warn('tripwire: capture could not start', coded.toJSON())
    return coded
  }

  private refuse(
    counter: keyof TripwireCounters['refused'],
    code: (typeof ErrorCodes)[keyof typeof ErrorCodes],
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

function bodyOf(recording: Recording): Readable | Buffer {
  return 'buffer' in recording.body ? recording.body.buffer : createReadStream(recording.body.spoolPath)
}

async function removeSpool(recording: Recording): Promise<void> {
  if ('spoolPath' in recording.body) await unlink(recording.body.spoolPath).catch(() => undefined)
}

/** Creates the controller. One per process is the intended use; several share one capture lock. */
export function createTripwire(options: TripwireOptions): TripwireController {
  return new TripwireController(options)
}
