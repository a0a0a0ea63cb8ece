import type { IncomingMessage } from 'node:http'
import type { Readable } from 'node:stream'
import type { KeyOption } from './auth/key-set.js'

/** What a capture records. */
export type CaptureKind = 'cpu' | 'heap' | 'heapsnapshot'

/** What started a capture. */
export type TriggerType = 'header' | 'admin' | 'slo' | 'eventloop' | 'heap' | 'api'

/** Where a capture is in its life. Only `running` captures live outside the sink. */
export type CaptureStatus = 'running' | 'completed' | 'failed' | 'aborted'

/**
 * How the capture's end was decided:
 * - `window`: a fixed duration from the start.
 * - `request`: spans one request; the caller stops it when the response finishes (capped at `maxDurationMs`).
 * - `manual`: runs until stopped (capped at `maxDurationMs`).
 * - `instant`: a point-in-time capture (heap snapshots).
 */
export type CaptureMode = 'window' | 'request' | 'manual' | 'instant'

export interface CaptureTrigger {
  type: TriggerType
  /** Who asked (a token's `sub`, an operator's name). Recorded for audit. */
  subject?: string
  /** Why, in words a person reads in a list of captures. */
  reason: string
}

export interface CaptureRequested {
  /** The planned duration for `window`, the cap for `request` and `manual`, 0 for `instant`. */
  durationMs: number
  mode: CaptureMode
  /** CPU captures only: the sampling interval asked of V8. */
  samplingIntervalUs?: number
  /** Heap captures only: the mean number of bytes between allocation samples. */
  samplingIntervalBytes?: number
}

/** What the profile itself says about its sampling, computed after stop. */
export interface CaptureSampling {
  /** CPU: samples recorded. Heap: allocation samples recorded. */
  samples: number
  /** CPU only: `(endTime - startTime) / samples`, in µs. V8 samples less often than asked, more so under load. */
  effectiveIntervalUs?: number
}

export interface CaptureRequestInfo {
  method: string
  /** The route template (`GET /users/:id`), never the raw URL. */
  route: string
}

export interface CaptureSloInfo {
  route: string
  quantile: number
  thresholdMs: number
  observedMs: number
  windowMs: number
  samples: number
}

export interface CaptureErrorInfo {
  code: string
  message: string
}

/**
 * The metadata stored beside every capture body. It never holds tokens, cookies, query strings or bodies.
 */
export interface CaptureMeta {
  id: string
  kind: CaptureKind
  status: CaptureStatus
  trigger: CaptureTrigger
  requested: CaptureRequested
  /** ISO-8601 UTC. */
  startedAt: string
  /** ISO-8601 UTC; absent while running. */
  endedAt?: string
  /** Measured with a monotonic clock; absent while running. */
  durationMs?: number
  /** Size of the body in bytes (0 for a failed capture). */
  bytes: number
  /** Hex SHA-256 of the body. */
  sha256: string
  contentType: string
  fileName: string
  host: string
  pid: number
  service: string
  version: string
  runtime: { node: string; v8: string }
  labels: Record<string, string>
  sampling?: CaptureSampling
  /** Frames in the profile, and how many of them source maps moved to their original source. */
  sourceMaps?: { frames: number; mapped: number }
  request?: CaptureRequestInfo
  slo?: CaptureSloInfo
  error?: CaptureErrorInfo
}

export interface SinkListQuery {
  /** At most this many items (a sink may cap it further). */
  limit: number
  /** The `nextCursor` of the previous page. */
  cursor?: string
  kind?: CaptureKind
}

export interface SinkListPage {
  /** Newest first. */
  items: CaptureMeta[]
  nextCursor?: string
}

export interface StoredCapture {
  meta: CaptureMeta
  body: Readable
}

/** Where capture bodies and metadata are stored. */
export interface Sink {
  /** Atomic: afterwards the capture is whole or absent, never half written. */
  put(meta: CaptureMeta, body: Readable | Buffer): Promise<void>
  get(id: string): Promise<StoredCapture | undefined>
  /** Optional: the metadata alone, without opening the body (listing a capture, checking its state). */
  getMeta?(id: string): Promise<CaptureMeta | undefined>
  list(query: SinkListQuery): Promise<SinkListPage>
  /** true when something was removed. */
  delete(id: string): Promise<boolean>
  /** Optional: release resources (timers, handles). Called by the controller's `close()`. */
  close?(): Promise<void>
  /**
   * Optional: a short-lived URL the body can be downloaded from directly (an S3 presigned URL). When it
   * returns one, the admin API answers downloads with a 302 to it instead of streaming the body itself.
   */
  downloadUrl?(id: string): Promise<string | undefined>
  /** Optional: the sink's own state for `status()` (uploads pending, last error, …). */
  status?(): object
}

/** Where Tripwire writes what it does. Every method must be cheap and must not throw. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void
  info(message: string, fields?: Record<string, unknown>): void
  warn(message: string, fields?: Record<string, unknown>): void
  error(message: string, fields?: Record<string, unknown>): void
}

export interface LimitsOptions {
  /**
   * The longest capture allowed, in ms. Longer requests are refused, never clamped.
   * @default 30000 (at most 300000)
   */
  maxDurationMs?: number
  /**
   * Captures allowed per hour across all triggers (a token bucket that refills continuously).
   * @default 6
   */
  capturesPerHour?: number
  /**
   * Quiet time after each capture ends before the next may start, in ms.
   * @default 10000
   */
  cooldownMs?: number
  /**
   * The largest CPU or heap profile stored, in bytes. Requests whose projected size is over it are refused;
   * a profile that still turns out larger is stored as `failed` without a body.
   * @default 67108864 (64 MiB)
   */
  maxProfileBytes?: number
}

export interface CpuOptions {
  /**
   * The CPU sampling interval asked of V8, in µs, within [100, 100000], for every capture that asks for none.
   * @default chosen per capture: a window gets about 3,000 samples, at 1–10 ms (a 30 s window every 10 ms,
   * 10 s every 3.3 ms); a capture without a planned length (one request, or until stopped) every 1 ms
   */
  samplingIntervalUs?: number
}

export interface HeapOptions {
  /**
   * Mean bytes between allocation samples, within [4096, 8388608]. Below ~4 KiB the cost is no longer small.
   * @default 32768
   */
  samplingIntervalBytes?: number
  /**
   * Also keep samples of objects that a major / minor GC collected during the window (memory grows with time).
   * @default false
   */
  includeCollected?: boolean
}

export interface HeapSnapshotOptions {
  /**
   * Heap snapshots stop the event loop for seconds and need many times the heap in memory: off unless enabled.
   * @default false
   */
  enabled?: boolean
  /**
   * Free memory required, as a multiple of `heapUsed`. Object-dense heaps were measured at ~13×.
   * @default 12
   */
  headroomFactor?: number
  /**
   * The largest snapshot stored, in bytes; a larger one is discarded and the capture fails.
   * @default 2147483648 (2 GiB)
   */
  maxBytes?: number
  /**
   * Where the snapshot is spooled while V8 writes it, before it is handed to the sink.
   * @default os.tmpdir()
   */
  spoolDir?: string
}

export interface TokenOptions {
  /**
   * The `aud` every token must carry.
   * @default the service name
   */
  audience?: string
  /**
   * When set, a token's `iss` must be one of these.
   * @default any issuer
   */
  issuers?: string[]
  /**
   * The longest lifetime of a trigger token (`exp - iat`, or `exp - now` without `iat`), in seconds.
   * @default 300
   */
  maxTtlSec?: number
  /**
   * Leeway for clock differences when checking `exp`, `nbf` and `iat`, in seconds.
   * @default 30
   */
  clockToleranceSec?: number
  /**
   * How many unexpired trigger-token ids (`jti`) are remembered; when full, new tokens are refused.
   * @default 10000
   */
  replayCacheSize?: number
  /**
   * How many trigger-token signatures are checked per second, at most. Past it, tokens are refused unverified
   * (counted as `over-verification-budget`) until the next second, so a flood of forged tokens cannot buy one
   * cryptographic operation per request. Legitimate triggers are a few an hour.
   * @default 100
   */
  maxVerificationsPerSec?: number
}

/** What an admin request wants to do: `read` for GET, `write` for POST and DELETE. */
export type AdminAction = 'read' | 'write'

export interface AdminOptions {
  /**
   * Where the admin API is mounted.
   * @default '/_tripwire'
   */
  prefix?: string
  /**
   * Decides who may use the admin API instead of (or besides) Bearer tokens: resolve true to allow.
   * Bearer tokens are still accepted when keys are configured.
   */
  authorize?: (req: IncomingMessage, action: AdminAction) => boolean | Promise<boolean>
  /**
   * Local development only: the admin API answers without any authentication (a warning is logged at start).
   * @default false
   */
  insecureNoAuth?: boolean
  /**
   * The longest lifetime of an admin token, in seconds.
   * @default 3600
   */
  maxTokenTtlSec?: number
  /**
   * The lifetime of the signed `?token=` links the API hands out for downloads and the viewer, in seconds.
   * @default 300
   */
  linkTtlSec?: number
  /**
   * The largest JSON request body accepted, in bytes.
   * @default 16384
   */
  bodyLimitBytes?: number
  /**
   * Serve the admin API on a listener of its own (say, loopback or a private interface) instead of the
   * application's port: the adapters then leave it off the application. `port: 0` picks a free port;
   * `controller.adminAddress()` says where it listens.
   * @default undefined (mounted by the adapter on the application's port); `host` defaults to '127.0.0.1'
   */
  listen?: { port: number; host?: string }
}

/** What an automatic trigger captures when it fires. */
export interface TriggerCaptureOptions {
  /** @default 'cpu' ('heap' for heapPressure) */
  kind?: 'cpu' | 'heap'
  /** @default 10000 (at most limits.maxDurationMs) */
  durationMs?: number
}

/** At most `count` fires within any `perMs` (dotnet-monitor's ActionCount over a sliding window). */
export interface FireCapOptions {
  /** @default 3 */
  count?: number
  /** @default 3600000 */
  perMs?: number
}

/** A latency SLO: capture when a route's quantile over a window breaks its threshold. */
export interface SloRuleOptions {
  /** @default `${quantile label} ${route}`, e.g. "p99 GET /users/:id" */
  name?: string
  /** "GET /users/:id" (a route template), or a pattern with `*`: "GET /api/*", "*". */
  route: string
  /** Route patterns left out of a `*` rule, e.g. ["GET /health"]. */
  exclude?: string[]
  /** 0.5 … 0.999. @default 0.99 */
  quantile?: number
  /** The latency, in ms, above which the quantile is a breach. */
  thresholdMs: number
  /** The sliding window the quantile covers. @default 60000 */
  windowMs?: number
  /** No verdict on fewer requests than this in the window. @default 100 */
  minSamples?: number
  capture?: TriggerCaptureOptions
  /** After a fire, no re-fire (even while the breach goes on) until this has passed. @default 300000 */
  cooldownMs?: number
  maxCaptures?: FireCapOptions
}

export interface EventLoopTriggerOptions {
  /** The p99 event-loop delay, in ms, above which a window is a breach. */
  thresholdMs: number
  /** @default 10000 */
  windowMs?: number
  capture?: TriggerCaptureOptions
  /** @default 300000 */
  cooldownMs?: number
  maxCaptures?: FireCapOptions
}

export interface HeapPressureTriggerOptions {
  /** Heap used as a fraction of V8's heap limit above which to capture. @default 0.85 */
  usedFraction?: number
  /** @default { kind: 'heap', durationMs: 10000 } */
  capture?: TriggerCaptureOptions
  /** The first fire takes one (guarded) heap snapshot instead; needs heapSnapshot.enabled. @default false */
  snapshotOnce?: boolean
  /** @default 600000 */
  cooldownMs?: number
  maxCaptures?: FireCapOptions
}

export interface AutomaticTriggerOptions {
  /** Log and count what would fire, capture nothing: for tuning thresholds safely. @default false */
  dryRun?: boolean
  /** How often the rules are evaluated, in ms. @default 1000 */
  evaluateEveryMs?: number
  /** Distinct route templates tracked; the rest are pooled as "other". @default 100 */
  maxTrackedRoutes?: number
}

/** Options of `createTripwire()`. Every field but `service` has a default. */
export interface TripwireOptions {
  /** The service name: stored in metadata (and, with the header trigger, the token's audience). */
  service: string
  /**
   * The service's version, stored in metadata.
   * @default process.env.npm_package_version ?? 'unknown'
   */
  version?: string
  /**
   * Where captures are stored.
   * @default new LocalDiskSink({ dir: './profiles' })
   */
  sink?: Sink
  limits?: LimitsOptions
  cpu?: CpuOptions
  heap?: HeapOptions
  heapSnapshot?: HeapSnapshotOptions
  /**
   * Labels added to every capture's metadata (a capture's own labels win).
   * @default {}
   */
  labels?: Record<string, string>
  /**
   * Where Tripwire logs. Default: `util.debuglog('tripwire')` for debug/info, `process.emitWarning` for warn/error.
   */
  logger?: Logger
  /**
   * Receives the audit trail: every trigger decision, download, view, stop and delete, as a structured event.
   * Default: each event is logged at info level as `tripwire: audit`. Refusals of requests that prove no
   * identity (forged or malformed trigger tokens, failed admin authentication) are summed and reported once
   * per 10 s. A hook that throws is logged, never fails the request.
   */
  audit?: (event: AuditEvent) => void
  /**
   * Signals on which Tripwire stops and stores a running capture, then lets the signal take its usual course.
   * Off by default: installing a signal handler changes how an application shuts down.
   * @default []
   */
  shutdownSignals?: NodeJS.Signals[]
  /**
   * How long `close()` waits for a running capture to be stored, in ms.
   * @default 5000
   */
  closeTimeoutMs?: number
  /**
   * Keys that verify trigger and admin tokens, selected by the token's `kid` (rotation: list old and new).
   * Without keys, no header trigger is accepted and the admin API needs `admin.authorize`.
   */
  keys?: KeyOption[]
  token?: TokenOptions
  /**
   * The admin API; `false` = not mounted. Mounted by default when keys or `admin.authorize` are given.
   */
  admin?: AdminOptions | false
  /** Latency SLO rules, evaluated per route template. */
  slo?: SloRuleOptions[]
  /** Capture when the event loop's p99 delay breaks a threshold. */
  eventLoop?: EventLoopTriggerOptions
  /** Capture when the heap nears V8's limit. */
  heapPressure?: HeapPressureTriggerOptions
  triggers?: AutomaticTriggerOptions
  /**
   * Map frames of compiled JavaScript back to their TypeScript (or other) sources with the scripts' source
   * maps, after a capture stops and before it is stored. Only scripts under `roots` are read.
   * @default { enabled: true, roots: [process.cwd()] }
   */
  sourceMaps?: { enabled?: boolean; roots?: string[] }
}

/** What a caller asks of the controller when starting a capture. */
export interface StartCaptureRequest {
  /** @default 'cpu' */
  kind?: CaptureKind
  /** A fixed window in ms (1 … `maxDurationMs`). Omit to run until stopped, capped at `maxDurationMs`. */
  durationMs?: number
  /** `request` when the capture spans one request; recorded in metadata. @default 'window' or 'manual' */
  mode?: 'request' | 'manual'
  /** @default { type: 'api', reason: 'programmatic capture' } */
  trigger?: CaptureTrigger
  labels?: Record<string, string>
  /** CPU only: overrides `cpu.samplingIntervalUs` for this capture. */
  samplingIntervalUs?: number
  request?: CaptureRequestInfo
  slo?: CaptureSloInfo
}

/** Where refusals without a proven identity come from. */
export type AuditRefusalSource = 'header' | 'admin'

/** What every audit event carries. */
interface AuditEventBase {
  /** ISO 8601. */
  at: string
  outcome: 'allowed' | 'refused'
}

/** One entry of the audit trail (see the `audit` option). */
export type AuditEvent =
  | (AuditEventBase & {
      /** A capture was asked for: by a signed header, the admin API, an automatic rule or the API. */
      type: 'trigger'
      trigger: TriggerType
      /** Who asked: the token's `sub`, the admin caller, the rule. */
      subject?: string
      /** Why the capture was asked for. */
      reason: string
      kind?: CaptureKind
      /** The capture started (allowed). */
      captureId?: string
      /** Why it was refused: an error code such as ERR_TRIPWIRE_BUSY. */
      code?: string
    })
  | (AuditEventBase & {
      /** A capture's body was sent (`download`), its viewer page opened (`view`), it was stopped or deleted. */
      type: 'download' | 'view' | 'stop' | 'delete'
      captureId: string
      subject?: string
      /** How the caller was let in: a Bearer token, a signed link, the authorize hook, or no auth at all. */
      via?: string
      /** `download`: `native` or `pprof`. */
      format?: string
      /** Refused: an error code (not found, not ready, …). */
      code?: string
    })
  | (AuditEventBase & {
      /** Refusals without a proven identity over `intervalMs`, by reason. */
      type: 'refusals'
      source: AuditRefusalSource
      counts: Record<string, number>
      intervalMs: number
    })

/** `status().audit`: what the audit trail has recorded since start. */
export interface AuditStatus {
  events: number
  byType: Partial<Record<AuditEvent['type'], number>>
  /** Refusals without a proven identity, each counted (they are reported summed). */
  refusedUnidentified: number
}
