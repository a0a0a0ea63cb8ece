import { MAX_PROFILE_BYTES_CAP } from '../config.js'
import { ErrorCodes, TripwireError } from '../errors.js'
import type { CaptureKind, CaptureMeta } from '../types.js'
import { cpuProfileToPprof } from './cpu-pprof.js'
import { heapProfileToPprof } from './heap-pprof.js'
import { encodePprofGzip } from './pprof-encode.js'
import type { CpuProfile, HeapProfile } from './v8-profiles.js'

/** V8's default mean interval, for heap captures whose metadata predates recording it. */
const DEFAULT_SAMPLING_INTERVAL_BYTES = 32_768

export interface ConvertOptions {
  /** Bodies larger than this are refused before parsing. Default: the largest profile Tripwire stores. */
  maxBytes?: number
}

/** `<id>.pb.gz`: the name a capture is downloaded under as pprof. */
export function pprofFileName(id: string): string {
  return `${id}.pb.gz`
}

/** Throws FORMAT_UNAVAILABLE for kinds with no pprof form, so callers can refuse before reading a body. */
export function assertPprofConvertible(kind: CaptureKind): void {
  if (kind === 'heapsnapshot') {
    throw new TripwireError(
      ErrorCodes.FORMAT_UNAVAILABLE,
      'a heap snapshot has no pprof form (it is a graph of objects, not samples); download format=native ' +
        'and open it in Chrome DevTools (Memory panel), or take a heap capture for pprof',
    )
  }
}

/** A stored CPU or heap capture's body converted to gzipped pprof. */
export async function convertCapture(
  meta: CaptureMeta,
  body: Buffer,
  { maxBytes = MAX_PROFILE_BYTES_CAP }: ConvertOptions = {},
): Promise<Buffer> {
  assertPprofConvertible(meta.kind)
  // parsing and converting take memory several times the body's size: a bound keeps that predictable
  if (body.length > maxBytes) {
    throw new TripwireError(
      ErrorCodes.PROFILE_TOO_LARGE,
      `capture ${meta.id} is ${body.length} bytes, over the ${maxBytes}-byte limit for pprof conversion; ` +
        'download format=native instead',
    )
  }
  const parsed = parseBody(meta, body)
  const startedAt = new Date(meta.startedAt)
  if (meta.kind === 'cpu') {
    if (!isCpuProfile(parsed)) throw notA(meta, '.cpuprofile')
    return encodePprofGzip(cpuProfileToPprof(parsed, { startedAt }))
  }
  if (!isHeapProfile(parsed)) throw notA(meta, '.heapprofile')
  const interval = meta.requested.samplingIntervalBytes ?? DEFAULT_SAMPLING_INTERVAL_BYTES
  return encodePprofGzip(
    heapProfileToPprof(parsed, interval, {
      startedAt,
      ...(meta.durationMs !== undefined && { durationMs: meta.durationMs }),
    }),
  )
}

function parseBody(meta: CaptureMeta, body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'))
  } catch (error) {
    throw new TripwireError(ErrorCodes.INTERNAL, `the stored body of capture ${meta.id} is not JSON`, {
      cause: error,
    })
  }
}

// Shape checks only deep enough that the converters cannot trip over a body of the wrong kind.
function isCpuProfile(value: unknown): value is CpuProfile {
  const profile = value as Partial<CpuProfile> | null
  return (
    typeof profile === 'object' &&
    profile !== null &&
    Array.isArray(profile.nodes) &&
    profile.nodes.every((node) => typeof node === 'object' && node !== null && 'callFrame' in node) &&
    typeof profile.startTime === 'number' &&
    typeof profile.endTime === 'number'
  )
}

function isHeapProfile(value: unknown): value is HeapProfile {
  const head = (value as Partial<HeapProfile> | null)?.head
  return typeof head === 'object' && head !== null && Array.isArray(head.children) && 'callFrame' in head
}

function notA(meta: CaptureMeta, format: string): TripwireError {
  return new TripwireError(ErrorCodes.INTERNAL, `the stored body of capture ${meta.id} is not a ${format}`)
}
