import type { Readable } from 'node:stream'
import { ErrorCodes, isTripwireError, TripwireError } from '../../errors.js'
import type { CaptureMeta } from '../../types.js'
import { backoffDelayMs, type BackoffPolicy } from './backoff.js'
import type { Spool } from './spool.js'

export interface UploadSource {
  /** Owned by the upload: consumed, or destroyed when it fails. */
  body: Readable
  bytes: number
}

/** Uploads one spooled capture (body, then metadata); rejects with a coded error. */
export type UploadCapture = (meta: CaptureMeta, source: UploadSource, signal: AbortSignal) => Promise<void>

export interface UploaderEvents {
  /** A capture reached S3 (and left the spool). */
  uploaded: (meta: CaptureMeta) => void
  /** Reported once per streak of failures with the same code, and for spool cleanup failures. */
  error: (error: TripwireError) => void
}

export interface UploadFailure {
  code: string
  message: string
  /** ISO-8601 UTC. */
  at: string
}

interface InFlight {
  id: string
  abort: AbortController
  settled: Promise<void>
}

/**
 * The background upload loop: one capture at a time, oldest first. After a failure it waits with capped,
 * jittered exponential backoff before the next attempt, and moves the failed capture to the back of the queue,
 * so one capture that cannot be stored never holds the others up. Uploads are retried until they succeed:
 * the spool's size bound is what limits what waits.
 */
export class Uploader {
  readonly #spool: Spool
  readonly #upload: UploadCapture
  readonly #policy: BackoffPolicy
  readonly #events: UploaderEvents
  /** Ids in the order they are tried; every id is also in the spool. */
  readonly #queue: string[] = []
  readonly #idleWaiters = new Set<() => void>()
  #loop: Promise<void> | undefined
  #inFlight: InFlight | undefined
  #stopped = false
  #failures = 0
  #lastFailure: UploadFailure | undefined
  #reportedCode: string | undefined
  #nextAttemptAt: number | undefined
  #wake: (() => void) | undefined
  #uploaded = 0

  constructor(spool: Spool, upload: UploadCapture, policy: BackoffPolicy, events: UploaderEvents) {
    this.#spool = spool
    this.#upload = upload
    this.#policy = policy
    this.#events = events
  }

  get uploadingId(): string | undefined {
    return this.#inFlight?.id
  }

  /** The latest failure, until an upload succeeds. */
  get lastFailure(): UploadFailure | undefined {
    return this.#lastFailure
  }

  get nextAttemptAt(): number | undefined {
    return this.#nextAttemptAt
  }

  /** Captures uploaded since this uploader was created. */
  get uploaded(): number {
    return this.#uploaded
  }

  enqueue(id: string): void {
    if (!this.#queue.includes(id)) this.#queue.push(id)
    this.start()
  }

  /** Starts the loop if it is not running (after `stop()` too). */
  start(): void {
    this.#stopped = false
    this.#loop ??= this.#run().finally(() => {
      this.#loop = undefined
      // A capture enqueued while the loop was finishing would otherwise wait for the next put.
      if (!this.#stopped && this.#queue.length > 0) this.start()
      else this.#notifyIdle()
    })
  }

  /** Ends a backoff wait now: the next attempt starts at once. */
  retryNow(): void {
    this.#wake?.()
  }

  /**
   * Takes `id` out of the queue; when it is uploading, aborts the upload and waits for it to settle, so that a
   * delete cannot be followed by the upload completing.
   */
  async remove(id: string): Promise<void> {
    this.#dequeue(id)
    const inFlight = this.#inFlight
    if (inFlight?.id === id) {
      inFlight.abort.abort()
      await inFlight.settled
    }
    // Nothing left to retry: end a backoff wait so that the loop finishes and idle waiters are told.
    if (this.#queue.length === 0) this.#wake?.()
  }

  /** Resolves true when nothing is waiting, false at `deadline` (a `performance.now()` time). */
  async whenIdle(deadline: number): Promise<boolean> {
    if (this.#queue.length === 0 && this.#inFlight === undefined) return true
    let timer: NodeJS.Timeout | undefined
    let done: (() => void) | undefined
    const idle = new Promise<boolean>((resolve) => {
      done = () => resolve(true)
      this.#idleWaiters.add(done)
      timer = setTimeout(() => resolve(false), Math.max(0, deadline - performance.now()))
    })
    try {
      return await idle
    } finally {
      clearTimeout(timer)
      if (done !== undefined) this.#idleWaiters.delete(done)
    }
  }

  /** Aborts the upload in flight (it stays spooled) and ends the loop. */
  async stop(): Promise<void> {
    this.#stopped = true
    this.#inFlight?.abort.abort()
    this.#wake?.()
    await this.#loop
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      const id = this.#queue[0]
      if (id === undefined) return
      const meta = this.#spool.entry(id)?.meta
      if (meta === undefined) {
        this.#queue.shift()
        continue
      }
      const abort = new AbortController()
      const attempt = this.#attempt(meta, abort.signal)
      this.#inFlight = { id, abort, settled: attempt.then(noop, noop) }
      let failure: { error: unknown } | undefined
      try {
        if (await attempt) this.#succeeded(meta)
        else this.#dequeue(id)
      } catch (error) {
        // An abort is a delete or a close, not a failure of the store.
        if (!abort.signal.aborted) failure = { error }
      } finally {
        this.#inFlight = undefined
      }
      if (failure !== undefined) {
        this.#failed(id, failure.error)
        await this.#backoff()
      }
    }
  }

  /** False when the capture left the spool before it could be read (deleted meanwhile). */
  async #attempt(meta: CaptureMeta, signal: AbortSignal): Promise<boolean> {
    const stored = await this.#spool.open(meta.id)
    const bytes = this.#spool.entry(meta.id)?.bytes
    if (stored === undefined || bytes === undefined) {
      stored?.body.destroy()
      await this.#spool.remove(meta.id)
      return false
    }
    await this.#upload(meta, { body: stored.body, bytes }, signal)
    // counted as soon as it is in S3, before it leaves the spool: status never shows it in neither place
    this.#uploaded++
    try {
      await this.#spool.remove(meta.id)
    } catch (error) {
      // Uploaded all the same; the leftover file is uploaded again (to the same keys) at the next start.
      this.#events.error(error as TripwireError)
    }
    return true
  }

  #succeeded(meta: CaptureMeta): void {
    this.#dequeue(meta.id)
    this.#failures = 0
    this.#lastFailure = undefined
    this.#reportedCode = undefined
    this.#nextAttemptAt = undefined
    this.#events.uploaded(meta)
  }

  #failed(id: string, error: unknown): void {
    const failure = isTripwireError(error)
      ? error
      : new TripwireError(ErrorCodes.SINK_IO, `S3Sink upload failed: ${String(error)}`, { cause: error })
    this.#failures++
    this.#lastFailure = { code: failure.code, message: failure.message, at: new Date().toISOString() }
    if (this.#dequeue(id)) this.#queue.push(id)
    // One report per streak (and per change of cause): an outage of an hour must not log every retry.
    if (failure.code !== this.#reportedCode) {
      this.#reportedCode = failure.code
      this.#events.error(failure)
    }
  }

  async #backoff(): Promise<void> {
    if (this.#stopped) return
    const delay = backoffDelayMs(this.#policy, this.#failures)
    this.#nextAttemptAt = Date.now() + delay
    await new Promise<void>((resolve) => {
      // unref: waiting to retry must not keep the process alive; the spool survives an exit
      const timer = setTimeout(resolve, delay).unref()
      this.#wake = () => {
        clearTimeout(timer)
        resolve()
      }
    })
    this.#wake = undefined
    this.#nextAttemptAt = undefined
  }

  #dequeue(id: string): boolean {
    const index = this.#queue.indexOf(id)
    if (index < 0) return false
    this.#queue.splice(index, 1)
    return true
  }

  #notifyIdle(): void {
    if (this.#queue.length > 0 || this.#inFlight !== undefined) return
    for (const resolve of this.#idleWaiters) resolve()
  }
}

function noop(): void {}
