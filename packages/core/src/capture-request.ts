import { isCaptureKind } from './capture-kinds.js'
import { CPU_INTERVAL_RANGE_US, type ResolvedConfig } from './config.js'
import { defaultCpuIntervalUs } from './cpu-interval.js'
import { didYouMean } from './did-you-mean.js'
import { checkLabels } from './labels.js'
import { ErrorCodes, TripwireError } from './errors.js'
import type {
  CaptureKind,
  CaptureMode,
  CaptureRequestInfo,
  CaptureSloInfo,
  CaptureTrigger,
  StartCaptureRequest,
  TriggerType,
} from './types.js'

/** A start request with every default filled in and every bound checked. */
export interface NormalizedCaptureRequest {
  kind: CaptureKind
  mode: CaptureMode
  /** For `window`, the planned duration; for `request`/`manual`, the cap; 0 for `instant`. */
  durationMs: number
  trigger: CaptureTrigger
  labels: Record<string, string>
  samplingIntervalUs?: number
  samplingIntervalBytes?: number
  request?: CaptureRequestInfo
  slo?: CaptureSloInfo
}

const REQUEST_KEYS = [
  'kind',
  'durationMs',
  'mode',
  'trigger',
  'labels',
  'samplingIntervalUs',
  'request',
  'slo',
] as const satisfies readonly (keyof StartCaptureRequest)[]
// A record rather than a list so that a new TriggerType fails to compile until it is listed here.
export const TRIGGER_TYPES: Readonly<Record<TriggerType, true>> = Object.freeze({
  header: true,
  admin: true,
  slo: true,
  eventloop: true,
  heap: true,
  api: true,
})

export function isTriggerType(value: unknown): value is TriggerType {
  return typeof value === 'string' && Object.hasOwn(TRIGGER_TYPES, value)
}
const TEXT_LIMIT = 512

/**
 * The size a CPU profile grows by per sample (`samples[]` + `timeDeltas[]` as JSON, measured at 9–12 bytes),
 * plus a margin for the call tree. Used to refuse windows whose profile would pass `maxProfileBytes`.
 */
const CPU_BYTES_PER_SAMPLE = 12
const CPU_TREE_ALLOWANCE_BYTES = 512 * 1024

/**
 * Checks a capture request from any caller (the programmatic API, the admin API, a trigger) against the
 * configured bounds. Out-of-range values are refused with ERR_TRIPWIRE_INVALID_REQUEST, never clamped.
 */
export function normalizeCaptureRequest(input: unknown, config: ResolvedConfig): NormalizedCaptureRequest {
  const raw = asObject(input ?? {}, 'the capture request')
  for (const key of Object.keys(raw)) {
    if (!(REQUEST_KEYS as readonly string[]).includes(key)) {
      const hint = didYouMean(key, REQUEST_KEYS)
      invalid(`"${key}" is not a capture field${hint ? `; did you mean "${hint}"?` : ''}`)
    }
  }
  const kind = raw.kind ?? 'cpu'
  if (!isCaptureKind(kind)) invalid(`kind must be "cpu", "heap" or "heapsnapshot", got ${show(kind)}`)
  if (kind === 'heapsnapshot' && !config.heapSnapshot.enabled) {
    throw new TripwireError(
      ErrorCodes.KIND_DISABLED,
      'heap snapshots are disabled: they stop the process for seconds and need many times the heap in memory; ' +
        'enable them with heapSnapshot: { enabled: true }, or take a "heap" sampling capture',
    )
  }

  // asked for, configured, or chosen from the window's length
  const askedIntervalUs = kind === 'cpu' ? cpuInterval(raw.samplingIntervalUs, config) : undefined
  const intervalFor = (windowMs: number | undefined) => askedIntervalUs ?? defaultCpuIntervalUs(windowMs)
  const maxDurationMs = cpuDurationCap(kind, intervalFor(undefined), config)
  let mode: CaptureMode
  let durationMs: number
  if (kind === 'heapsnapshot') {
    if (raw.durationMs !== undefined)
      invalid('durationMs does not apply to a heap snapshot: it is taken at once')
    if (raw.mode !== undefined) invalid('mode does not apply to a heap snapshot: it is taken at once')
    mode = 'instant'
    durationMs = 0
  } else if (raw.durationMs !== undefined) {
    const duration = raw.durationMs
    if (
      typeof duration !== 'number' ||
      !Number.isInteger(duration) ||
      duration < 1 ||
      duration > config.limits.maxDurationMs
    ) {
      invalid(
        `durationMs must be a whole number from 1 to ${config.limits.maxDurationMs} (limits.maxDurationMs), got ${show(duration)}`,
      )
    }
    if (duration > cpuDurationCap(kind, intervalFor(duration), config)) {
      throw new TripwireError(
        ErrorCodes.PROFILE_TOO_LARGE,
        `a ${duration} ms CPU capture would pass limits.maxProfileBytes (${config.limits.maxProfileBytes} bytes); ` +
          `at this sampling interval at most ${cpuDurationCap(kind, intervalFor(duration), config)} ms fits: ` +
          'shorten it or sample less often',
      )
    }
    if (raw.mode !== undefined)
      invalid('mode applies only to captures without durationMs (they run until stopped)')
    mode = 'window'
    durationMs = duration
  } else {
    if (raw.mode !== undefined && raw.mode !== 'request' && raw.mode !== 'manual') {
      invalid(`mode must be "request" or "manual", got ${show(raw.mode)}`)
    }
    mode = raw.mode ?? 'manual'
    durationMs = maxDurationMs
  }

  const normalized: NormalizedCaptureRequest = {
    kind,
    mode,
    durationMs,
    trigger: normalizeTrigger(raw.trigger),
    labels: normalizeLabels(raw.labels),
  }
  if (kind === 'cpu') normalized.samplingIntervalUs = intervalFor(mode === 'window' ? durationMs : undefined)
  else if (raw.samplingIntervalUs !== undefined) invalid('samplingIntervalUs applies only to cpu captures')
  if (kind === 'heap') normalized.samplingIntervalBytes = config.heap.samplingIntervalBytes
  if (raw.request !== undefined) normalized.request = normalizeRequestInfo(raw.request)
  if (raw.slo !== undefined) normalized.slo = normalizeSlo(raw.slo)
  return normalized
}

/** The longest CPU window whose projected profile still fits `maxProfileBytes`, within `maxDurationMs`. */
function cpuDurationCap(kind: CaptureKind, intervalUs: number, config: ResolvedConfig): number {
  const { maxDurationMs, maxProfileBytes } = config.limits
  if (kind !== 'cpu') return maxDurationMs
  const bytesPerMs = (1000 / intervalUs) * CPU_BYTES_PER_SAMPLE
  const fitting = Math.floor(Math.max(0, maxProfileBytes - CPU_TREE_ALLOWANCE_BYTES) / bytesPerMs)
  return Math.max(1, Math.min(maxDurationMs, fitting))
}

/** The interval asked for in the request, or configured; undefined when the default applies. */
function cpuInterval(value: unknown, config: ResolvedConfig): number | undefined {
  if (value === undefined) return config.cpu.samplingIntervalUs
  const { min, max } = CPU_INTERVAL_RANGE_US
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    invalid(`samplingIntervalUs must be a whole number from ${min} to ${max}, got ${show(value)}`)
  }
  return value
}

function normalizeTrigger(value: unknown): CaptureTrigger {
  if (value === undefined) return { type: 'api', reason: 'programmatic capture' }
  const raw = asObject(value, 'trigger')
  if (!isTriggerType(raw.type)) {
    invalid(`trigger.type must be one of ${Object.keys(TRIGGER_TYPES).join(', ')}, got ${show(raw.type)}`)
  }
  const trigger: CaptureTrigger = {
    type: raw.type,
    reason: text(raw.reason, 'trigger.reason'),
  }
  if (raw.subject !== undefined) trigger.subject = text(raw.subject, 'trigger.subject')
  return trigger
}

function normalizeLabels(value: unknown): Record<string, string> {
  const checked = checkLabels(value)
  if ('problem' in checked) invalid(checked.problem)
  return checked.labels
}

export function normalizeRequestInfo(value: unknown): CaptureRequestInfo {
  const raw = asObject(value, 'request')
  const route = text(raw.route, 'request.route')
  // a route template never has a query string; one with "?" is a raw URL, which metadata must not hold
  if (route.includes('?')) invalid('request.route must be a route template such as "/users/:id", not a URL')
  return { method: text(raw.method, 'request.method'), route }
}

function normalizeSlo(value: unknown): CaptureSloInfo {
  const raw = asObject(value, 'slo')
  const number = (name: keyof CaptureSloInfo): number => {
    const item = raw[name]
    if (typeof item !== 'number' || !Number.isFinite(item) || item < 0)
      invalid(`slo.${name} must be a number ≥ 0`)
    return item
  }
  return {
    route: text(raw.route, 'slo.route'),
    quantile: number('quantile'),
    thresholdMs: number('thresholdMs'),
    observedMs: number('observedMs'),
    windowMs: number('windowMs'),
    samples: number('samples'),
  }
}

function text(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '' || value.length > TEXT_LIMIT) {
    invalid(`${name} must be a non-empty string of at most ${TEXT_LIMIT} characters`)
  }
  return value
}

function asObject(value: unknown, name: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    invalid(`${name} must be an object`)
  return value as Record<string, unknown>
}

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : String(value)
}

function invalid(message: string): never {
  throw new TripwireError(ErrorCodes.INVALID_REQUEST, message)
}
