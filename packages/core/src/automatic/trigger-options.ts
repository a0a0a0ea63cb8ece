import type { OptionChecker } from '../option-checks.js'

/** What an automatic trigger captures when it fires. */
export interface ResolvedTriggerCapture {
  kind: 'cpu' | 'heap'
  durationMs: number
}

/** A cap on fires: at most `count` within any `perMs` (dotnet-monitor's ActionCount + sliding window). */
export interface ResolvedFireCap {
  count: number
  perMs: number
}

export interface ResolvedSloRule {
  name: string
  /** `GET /users/:id` exactly, or a pattern where `*` matches any run of characters (`GET /api/*`, `*`). */
  route: string
  exclude: readonly string[]
  quantile: number
  thresholdMs: number
  windowMs: number
  minSamples: number
  capture: ResolvedTriggerCapture
  cooldownMs: number
  maxCaptures: ResolvedFireCap
}

export interface ResolvedEventLoopTrigger {
  /** p99 of event-loop delay over `windowMs` above this fires. */
  thresholdMs: number
  windowMs: number
  capture: ResolvedTriggerCapture
  cooldownMs: number
  maxCaptures: ResolvedFireCap
}

export interface ResolvedHeapTrigger {
  /** heapUsed / heap_size_limit above this fires. */
  usedFraction: number
  capture: ResolvedTriggerCapture
  /** Also take one heap snapshot (guarded; needs heapSnapshot.enabled) the first time it fires. */
  snapshotOnce: boolean
  cooldownMs: number
  maxCaptures: ResolvedFireCap
}

export interface ResolvedTriggers {
  slo: readonly ResolvedSloRule[]
  eventLoop: ResolvedEventLoopTrigger | undefined
  heap: ResolvedHeapTrigger | undefined
  /** Log and count what would fire, start nothing. */
  dryRun: boolean
  evaluateEveryMs: number
  maxTrackedRoutes: number
}

const QUANTILE_RANGE = { min: 0.5, max: 0.999 } as const
const DEFAULT_CAP: ResolvedFireCap = { count: 3, perMs: 3_600_000 }

/** Validates `slo`, `eventLoop`, `heapPressure` and `triggers` into rules with every default filled in. */
export function resolveTriggers(
  check: OptionChecker,
  raw: { slo: unknown; eventLoop: unknown; heapPressure: unknown; triggers: unknown },
  maxDurationMs: number,
): ResolvedTriggers {
  const triggers = check.object('triggers', raw.triggers, ['dryRun', 'evaluateEveryMs', 'maxTrackedRoutes'])
  if (raw.slo !== undefined && !Array.isArray(raw.slo)) {
    check.fail('slo', 'must be an array of rules such as [{ route: "GET /users/:id", thresholdMs: 250 }]')
  }
  const slo = ((raw.slo as unknown[] | undefined) ?? []).map((rule, index) =>
    resolveSloRule(check, `slo[${index}]`, rule, maxDurationMs),
  )
  const names = new Set<string>()
  for (const rule of slo) {
    if (names.has(rule.name))
      check.fail('slo', `has two rules named "${rule.name}": give each a distinct name`)
    names.add(rule.name)
  }
  return {
    slo,
    eventLoop:
      raw.eventLoop === undefined ? undefined : resolveEventLoop(check, raw.eventLoop, maxDurationMs),
    heap: raw.heapPressure === undefined ? undefined : resolveHeap(check, raw.heapPressure, maxDurationMs),
    dryRun: check.boolean('triggers.dryRun', triggers.dryRun, false),
    evaluateEveryMs: check.integer('triggers.evaluateEveryMs', triggers.evaluateEveryMs, 1000, 50, 60_000),
    maxTrackedRoutes: check.integer('triggers.maxTrackedRoutes', triggers.maxTrackedRoutes, 100, 1, 10_000),
  }
}

function resolveSloRule(
  check: OptionChecker,
  path: string,
  value: unknown,
  maxDurationMs: number,
): ResolvedSloRule {
  const rule = check.object(path, value, [
    'name',
    'route',
    'exclude',
    'quantile',
    'thresholdMs',
    'windowMs',
    'minSamples',
    'capture',
    'cooldownMs',
    'maxCaptures',
  ])
  const route = check.string(`${path}.route`, rule.route)
  if (!/^(\*|[A-Z]+ \S+|\* \S+)$/.test(route)) {
    check.fail(
      `${path}.route`,
      `must be "METHOD /template" (e.g. "GET /users/:id"), "GET /api/*" or "*", got ${JSON.stringify(route)}`,
    )
  }
  const quantile = check.number(
    `${path}.quantile`,
    rule.quantile,
    0.99,
    QUANTILE_RANGE.min,
    QUANTILE_RANGE.max,
  )
  if (rule.thresholdMs === undefined)
    check.fail(`${path}.thresholdMs`, 'is required: the latency that counts as a breach')
  const exclude = rule.exclude === undefined ? [] : checkPatterns(check, `${path}.exclude`, rule.exclude)
  return {
    name: check.string(`${path}.name`, rule.name, `${quantileLabel(quantile)} ${route}`),
    route,
    exclude,
    quantile,
    thresholdMs: check.number(`${path}.thresholdMs`, rule.thresholdMs, 0, 0.1, 3_600_000),
    windowMs: check.integer(`${path}.windowMs`, rule.windowMs, 60_000, 1000, 3_600_000),
    minSamples: check.integer(`${path}.minSamples`, rule.minSamples, 100, 1, 10_000_000),
    capture: resolveCapture(check, `${path}.capture`, rule.capture, 'cpu', maxDurationMs),
    cooldownMs: check.integer(`${path}.cooldownMs`, rule.cooldownMs, 300_000, 0, 86_400_000),
    maxCaptures: resolveCap(check, `${path}.maxCaptures`, rule.maxCaptures),
  }
}

function resolveEventLoop(
  check: OptionChecker,
  value: unknown,
  maxDurationMs: number,
): ResolvedEventLoopTrigger {
  const raw = check.object('eventLoop', value, [
    'thresholdMs',
    'windowMs',
    'capture',
    'cooldownMs',
    'maxCaptures',
  ])
  if (raw.thresholdMs === undefined)
    check.fail('eventLoop.thresholdMs', 'is required: the p99 event-loop delay that counts as a breach')
  return {
    thresholdMs: check.number('eventLoop.thresholdMs', raw.thresholdMs, 0, 1, 60_000),
    windowMs: check.integer('eventLoop.windowMs', raw.windowMs, 10_000, 1000, 3_600_000),
    capture: resolveCapture(check, 'eventLoop.capture', raw.capture, 'cpu', maxDurationMs),
    cooldownMs: check.integer('eventLoop.cooldownMs', raw.cooldownMs, 300_000, 0, 86_400_000),
    maxCaptures: resolveCap(check, 'eventLoop.maxCaptures', raw.maxCaptures),
  }
}

function resolveHeap(check: OptionChecker, value: unknown, maxDurationMs: number): ResolvedHeapTrigger {
  const raw = check.object('heapPressure', value, [
    'usedFraction',
    'capture',
    'snapshotOnce',
    'cooldownMs',
    'maxCaptures',
  ])
  return {
    usedFraction: check.number('heapPressure.usedFraction', raw.usedFraction, 0.85, 0.05, 0.99),
    capture: resolveCapture(check, 'heapPressure.capture', raw.capture, 'heap', maxDurationMs),
    snapshotOnce: check.boolean('heapPressure.snapshotOnce', raw.snapshotOnce, false),
    cooldownMs: check.integer('heapPressure.cooldownMs', raw.cooldownMs, 600_000, 0, 86_400_000),
    maxCaptures: resolveCap(check, 'heapPressure.maxCaptures', raw.maxCaptures),
  }
}

function resolveCapture(
  check: OptionChecker,
  path: string,
  value: unknown,
  defaultKind: 'cpu' | 'heap',
  maxDurationMs: number,
): ResolvedTriggerCapture {
  const raw = check.object(path, value, ['kind', 'durationMs'])
  const kind = raw.kind ?? defaultKind
  if (kind !== 'cpu' && kind !== 'heap')
    check.fail(`${path}.kind`, `must be "cpu" or "heap", got ${JSON.stringify(kind)}`)
  return {
    kind,
    durationMs: check.integer(
      `${path}.durationMs`,
      raw.durationMs,
      Math.min(10_000, maxDurationMs),
      1,
      maxDurationMs,
    ),
  }
}

function resolveCap(check: OptionChecker, path: string, value: unknown): ResolvedFireCap {
  const raw = check.object(path, value, ['count', 'perMs'])
  return {
    count: check.integer(`${path}.count`, raw.count, DEFAULT_CAP.count, 1, 1000),
    perMs: check.integer(`${path}.perMs`, raw.perMs, DEFAULT_CAP.perMs, 1000, 7 * 86_400_000),
  }
}

function checkPatterns(check: OptionChecker, path: string, value: unknown): string[] {
  if (!Array.isArray(value)) check.fail(path, 'must be an array of route patterns such as ["GET /health"]')
  return value.map((pattern, index) => check.string(`${path}[${index}]`, pattern))
}

/** `p99`, `p50`, `p99.9`. */
export function quantileLabel(quantile: number): string {
  return `p${Number((quantile * 100).toFixed(1))}`
}
