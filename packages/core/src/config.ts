import { accessSync, constants as fsConstants, realpathSync } from 'node:fs'
import { resolve } from 'node:path'
import { constants as osConstants, tmpdir } from 'node:os'
import type { IncomingMessage } from 'node:http'
import { resolveKeySet, type KeySet } from './auth/key-set.js'
import { ErrorCodes, TripwireError } from './errors.js'
import { resolveTriggers, type ResolvedTriggers } from './automatic/trigger-options.js'
import { checkLabels } from './labels.js'
import { defaultLogger } from './logger.js'
import { OptionChecker } from './option-checks.js'
import { LocalDiskSink } from './sinks/local-disk.js'
import type { AdminAction, AuditEvent, Logger, Sink, TripwireOptions } from './types.js'

/** No option can raise a capture past five minutes: V8 keeps every sample in memory until stop. */
export const HARD_MAX_DURATION_MS = 300_000
/** Below 100 µs the sampler costs ~30 % of a core; above 100 ms a profile says little. */
export const CPU_INTERVAL_RANGE_US = { min: 100, max: 100_000 } as const
/** A profile arrives as one JS string: V8's ~512 MiB string limit, with room to spare, bounds it. */
export const MAX_PROFILE_BYTES_CAP = 256 * 1024 * 1024
/** Below ~4 KiB heap sampling costs up to ~15 %. */
export const HEAP_INTERVAL_RANGE_BYTES = { min: 4096, max: 8 * 1024 * 1024 } as const

export interface ResolvedConfig {
  readonly service: string
  readonly version: string
  readonly sink: Sink
  readonly limits: Readonly<{
    maxDurationMs: number
    capturesPerHour: number
    cooldownMs: number
    maxProfileBytes: number
  }>
  /** `samplingIntervalUs` undefined: chosen per capture (cpu-interval.ts). */
  readonly cpu: Readonly<{ samplingIntervalUs: number | undefined }>
  readonly heap: Readonly<{ samplingIntervalBytes: number; includeCollected: boolean }>
  readonly heapSnapshot: Readonly<{
    enabled: boolean
    headroomFactor: number
    maxBytes: number
    spoolDir: string
  }>
  readonly labels: Readonly<Record<string, string>>
  readonly logger: Logger
  /** The `audit` option, fenced: undefined logs each event at info level instead. */
  readonly audit: ((event: AuditEvent) => void) | undefined
  readonly shutdownSignals: readonly NodeJS.Signals[]
  readonly closeTimeoutMs: number
  readonly keys: KeySet
  readonly token: Readonly<{
    audience: string
    issuers: readonly string[] | undefined
    maxTtlSec: number
    clockToleranceSec: number
    replayCacheSize: number
    maxVerificationsPerSec: number
  }>
  /** `false` when the admin API is not mounted. */
  readonly admin: ResolvedAdminConfig | false
  readonly triggers: ResolvedTriggers
  readonly sourceMaps: Readonly<{ enabled: boolean; roots: readonly string[] }>
}

export interface ResolvedAdminConfig {
  readonly prefix: string
  readonly authorize: ((req: IncomingMessage, action: AdminAction) => boolean | Promise<boolean>) | undefined
  readonly insecureNoAuth: boolean
  readonly maxTokenTtlSec: number
  readonly linkTtlSec: number
  readonly bodyLimitBytes: number
  /** A listener of its own for the admin API; the adapters then leave it off the application's port. */
  readonly listen: Readonly<{ port: number; host: string }> | undefined
}

const TOP_LEVEL_KEYS = [
  'service',
  'version',
  'sink',
  'limits',
  'cpu',
  'heap',
  'heapSnapshot',
  'labels',
  'logger',
  'audit',
  'shutdownSignals',
  'closeTimeoutMs',
  'keys',
  'token',
  'admin',
  'slo',
  'eventLoop',
  'heapPressure',
  'triggers',
  'sourceMaps',
] as const satisfies readonly (keyof TripwireOptions)[]

/**
 * Validates `createTripwire()` options once, into a frozen config with every default filled in, so that
 * nothing on the capture path has to check an option again.
 */
export function resolveConfig(options: unknown): ResolvedConfig {
  const check = new OptionChecker('createTripwire')
  if (options === undefined) check.fail('service', 'is required: createTripwire({ service: "my-service" })')
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TripwireError(
      ErrorCodes.INVALID_OPTIONS,
      `createTripwire: options must be an object such as { service: "checkout" }, got ${options === null ? 'null' : typeof options}`,
    )
  }
  const raw = check.object('', options, TOP_LEVEL_KEYS)
  const limits = check.object('limits', raw.limits, [
    'maxDurationMs',
    'capturesPerHour',
    'cooldownMs',
    'maxProfileBytes',
  ])
  const cpu = check.object('cpu', raw.cpu, ['samplingIntervalUs'])
  const heap = check.object('heap', raw.heap, ['samplingIntervalBytes', 'includeCollected'])
  const snapshot = check.object('heapSnapshot', raw.heapSnapshot, [
    'enabled',
    'headroomFactor',
    'maxBytes',
    'spoolDir',
  ])

  const token = check.object('token', raw.token, [
    'audience',
    'issuers',
    'maxTtlSec',
    'clockToleranceSec',
    'replayCacheSize',
    'maxVerificationsPerSec',
  ])
  const service = check.string('service', raw.service)
  const maxDurationMs = check.integer(
    'limits.maxDurationMs',
    limits.maxDurationMs,
    30_000,
    1,
    HARD_MAX_DURATION_MS,
  )
  const triggers = resolveTriggers(
    check,
    { slo: raw.slo, eventLoop: raw.eventLoop, heapPressure: raw.heapPressure, triggers: raw.triggers },
    maxDurationMs,
  )
  if (triggers.heap?.snapshotOnce === true && (snapshot.enabled ?? false) !== true) {
    check.fail('heapPressure.snapshotOnce', 'needs heapSnapshot: { enabled: true }')
  }
  const keys = resolveKeySet(check, raw.keys)

  return freezeConfig({
    service,
    version: check.string('version', raw.version, process.env.npm_package_version ?? 'unknown'),
    sink: raw.sink === undefined ? new LocalDiskSink({ dir: './profiles' }) : checkSink(check, raw.sink),
    limits: {
      maxDurationMs,
      capturesPerHour: check.integer('limits.capturesPerHour', limits.capturesPerHour, 6, 1, 3600),
      cooldownMs: check.integer('limits.cooldownMs', limits.cooldownMs, 10_000, 0, 24 * 3_600_000),
      maxProfileBytes: check.integer(
        'limits.maxProfileBytes',
        limits.maxProfileBytes,
        64 * 1024 * 1024,
        1024,
        MAX_PROFILE_BYTES_CAP,
      ),
    },
    cpu: {
      samplingIntervalUs:
        cpu.samplingIntervalUs === undefined
          ? undefined
          : check.integer(
              'cpu.samplingIntervalUs',
              cpu.samplingIntervalUs,
              0,
              CPU_INTERVAL_RANGE_US.min,
              CPU_INTERVAL_RANGE_US.max,
            ),
    },
    heap: {
      samplingIntervalBytes: check.integer(
        'heap.samplingIntervalBytes',
        heap.samplingIntervalBytes,
        32_768,
        HEAP_INTERVAL_RANGE_BYTES.min,
        HEAP_INTERVAL_RANGE_BYTES.max,
      ),
      includeCollected: check.boolean('heap.includeCollected', heap.includeCollected, false),
    },
    heapSnapshot: {
      enabled: check.boolean('heapSnapshot.enabled', snapshot.enabled, false),
      headroomFactor: check.number('heapSnapshot.headroomFactor', snapshot.headroomFactor, 12, 1, 1000),
      maxBytes: check.integer(
        'heapSnapshot.maxBytes',
        snapshot.maxBytes,
        2 * 1024 ** 3,
        1024,
        Number.MAX_SAFE_INTEGER,
      ),
      spoolDir: checkSpoolDir(check, snapshot.spoolDir, snapshot.enabled === true),
    },
    labels: checkConfigLabels(check, raw.labels),
    logger: raw.logger === undefined ? defaultLogger : fenced(checkLogger(check, raw.logger)),
    audit: checkAuditHook(check, raw.audit),
    shutdownSignals: checkSignals(check, raw.shutdownSignals),
    closeTimeoutMs: check.integer('closeTimeoutMs', raw.closeTimeoutMs, 5000, 1, 600_000),
    keys,
    token: {
      audience: check.string('token.audience', token.audience, service),
      issuers: token.issuers === undefined ? undefined : checkIssuers(check, token.issuers),
      maxTtlSec: check.integer('token.maxTtlSec', token.maxTtlSec, 300, 1, 3600),
      clockToleranceSec: check.integer('token.clockToleranceSec', token.clockToleranceSec, 30, 0, 300),
      replayCacheSize: check.integer('token.replayCacheSize', token.replayCacheSize, 10_000, 100, 1_000_000),
      maxVerificationsPerSec: check.integer(
        'token.maxVerificationsPerSec',
        token.maxVerificationsPerSec,
        100,
        1,
        1_000_000,
      ),
    },
    admin: resolveAdmin(check, raw.admin, keys.byKid.size > 0),
    triggers,
    sourceMaps: resolveSourceMaps(check, raw.sourceMaps),
  })
}

function resolveSourceMaps(check: OptionChecker, value: unknown): { enabled: boolean; roots: string[] } {
  const raw = check.object('sourceMaps', value, ['enabled', 'roots'])
  if (raw.roots !== undefined && (!Array.isArray(raw.roots) || raw.roots.length === 0)) {
    check.fail('sourceMaps.roots', 'must be a non-empty array of directories')
  }
  const roots = ((raw.roots as unknown[] | undefined) ?? [process.cwd()]).map((root, index) =>
    // Node reports scripts by their real path: a root given through a symlink must match that too
    realRoot(check.string(`sourceMaps.roots[${index}]`, root)),
  )
  return { enabled: check.boolean('sourceMaps.enabled', raw.enabled, true), roots }
}

function realRoot(root: string): string {
  try {
    return realpathSync(resolve(root))
  } catch {
    return resolve(root)
  }
}

function checkConfigLabels(check: OptionChecker, value: unknown): Record<string, string> {
  const checked = checkLabels(value)
  if ('problem' in checked) check.fail('labels', `is invalid: ${checked.problem}`)
  return checked.labels
}

/** Checked at construction, only when snapshots are on: finding out at the first snapshot would be too late. */
function checkSpoolDir(check: OptionChecker, value: unknown, enabled: boolean): string {
  const dir = check.string('heapSnapshot.spoolDir', value, tmpdir())
  if (!enabled) return dir
  try {
    accessSync(dir, fsConstants.W_OK)
  } catch (error) {
    check.fail('heapSnapshot.spoolDir', `must be a writable directory: ${(error as Error).message}`)
  }
  return dir
}

const ADMIN_PREFIX = /^\/[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/

/**
 * The admin API is mounted by default when it can authenticate (keys or an authorize hook). Asked for
 * explicitly without any way to authenticate, it refuses to start: there is no unauthenticated mode except
 * `insecureNoAuth: true`, for local development.
 */
function resolveAdmin(check: OptionChecker, value: unknown, haveKeys: boolean): ResolvedAdminConfig | false {
  if (value === false) return false
  const admin = check.object('admin', value, [
    'prefix',
    'authorize',
    'insecureNoAuth',
    'maxTokenTtlSec',
    'linkTtlSec',
    'bodyLimitBytes',
    'listen',
  ])
  if (admin.authorize !== undefined && typeof admin.authorize !== 'function') {
    check.fail('admin.authorize', 'must be a function (req, action) => boolean | Promise<boolean>')
  }
  const insecureNoAuth = check.boolean('admin.insecureNoAuth', admin.insecureNoAuth, false)
  if (insecureNoAuth && (haveKeys || admin.authorize !== undefined)) {
    // keys or a hook next to insecureNoAuth means someone meant to protect the API: do not silently open it
    check.fail(
      'admin.insecureNoAuth',
      'cannot be combined with keys or admin.authorize; remove one or the other',
    )
  }
  const canAuthenticate = haveKeys || admin.authorize !== undefined || insecureNoAuth
  if (!canAuthenticate) {
    if (value === undefined) return false
    check.fail(
      'admin',
      'has no way to authenticate callers: give keys (Bearer tokens), admin.authorize, ' +
        'or, for local development only, admin.insecureNoAuth: true',
    )
  }
  const prefix = check.string('admin.prefix', admin.prefix, '/_tripwire')
  if (!ADMIN_PREFIX.test(prefix))
    check.fail('admin.prefix', `must look like "/_tripwire" (got ${JSON.stringify(prefix)})`)
  return {
    prefix,
    authorize: admin.authorize as ResolvedAdminConfig['authorize'],
    insecureNoAuth,
    maxTokenTtlSec: check.integer('admin.maxTokenTtlSec', admin.maxTokenTtlSec, 3600, 1, 7 * 24 * 3600),
    linkTtlSec: check.integer('admin.linkTtlSec', admin.linkTtlSec, 300, 10, 3600),
    bodyLimitBytes: check.integer('admin.bodyLimitBytes', admin.bodyLimitBytes, 16 * 1024, 256, 1024 * 1024),
    listen: resolveAdminListen(check, admin.listen),
  }
}

function resolveAdminListen(
  check: OptionChecker,
  value: unknown,
): { port: number; host: string } | undefined {
  if (value === undefined) return undefined
  const listen = check.object('admin.listen', value, ['port', 'host'])
  if (listen.port === undefined) check.fail('admin.listen.port', 'is required (0 picks a free port)')
  return {
    port: check.integer('admin.listen.port', listen.port, 0, 0, 65_535),
    // loopback unless told otherwise: the point of a separate listener is to keep the API off public interfaces
    host: check.string('admin.listen.host', listen.host, '127.0.0.1'),
  }
}

function checkIssuers(check: OptionChecker, value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0)
    check.fail('token.issuers', 'must be a non-empty array of strings')
  return value.map((issuer, index) => check.string(`token.issuers[${index}]`, issuer))
}

function checkSink(check: OptionChecker, value: unknown): Sink {
  const methods = ['put', 'get', 'list', 'delete'] as const
  const missing = methods.filter(
    (name) => typeof (value as Record<string, unknown> | null)?.[name] !== 'function',
  )
  if (missing.length > 0) {
    check.fail(
      'sink',
      `must implement the Sink interface (put, get, list, delete); missing: ${missing.join(', ')}`,
    )
  }
  return value as Sink
}

function checkAuditHook(check: OptionChecker, value: unknown): ((event: AuditEvent) => void) | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'function') check.fail('audit', 'must be a function (event) => void')
  return value as (event: AuditEvent) => void
}

function checkLogger(check: OptionChecker, value: unknown): Logger {
  const methods = ['debug', 'info', 'warn', 'error'] as const
  const missing = methods.filter(
    (name) => typeof (value as Record<string, unknown> | null)?.[name] !== 'function',
  )
  if (missing.length > 0)
    check.fail('logger', `must have debug, info, warn and error methods; missing: ${missing.join(', ')}`)
  return value as Logger
}

/** SIGKILL and SIGSTOP cannot be caught; SIGUSR1 belongs to Node's inspector. */
const UNUSABLE_SIGNALS = new Set(['SIGKILL', 'SIGSTOP', 'SIGUSR1'])

function checkSignals(check: OptionChecker, value: unknown): NodeJS.Signals[] {
  if (value === undefined) return []
  if (!Array.isArray(value))
    check.fail('shutdownSignals', 'must be an array of signal names such as ["SIGTERM"]')
  const signals = value.map((signal, index) => {
    if (
      typeof signal !== 'string' ||
      !Object.hasOwn(osConstants.signals, signal) ||
      UNUSABLE_SIGNALS.has(signal)
    ) {
      check.fail(
        `shutdownSignals[${index}]`,
        `must be a signal Tripwire may handle, such as "SIGTERM" or "SIGINT", got ${String(signal)}`,
      )
    }
    return signal as NodeJS.Signals
  })
  return [...new Set(signals)]
}

/** Freezes the config and its data; the sink and the logger are the user's objects and keep their own state. */
function freezeConfig(config: ResolvedConfig): ResolvedConfig {
  for (const [key, value] of Object.entries(config)) {
    if (key !== 'sink' && key !== 'logger' && typeof value === 'object' && value !== null)
      Object.freeze(value)
  }
  return Object.freeze(config)
}

/** A user's logger that throws must not break a capture: its calls are fenced. */
function fenced(logger: Logger): Logger {
  const call =
    (method: keyof Logger) =>
    (message: string, fields?: Record<string, unknown>): void => {
      try {
        logger[method](message, fields)
      } catch {
        // a broken logger loses the line, never the capture
      }
    }
  return { debug: call('debug'), info: call('info'), warn: call('warn'), error: call('error') }
}
