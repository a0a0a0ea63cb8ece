import { hostname } from 'node:os'
import { captureFileName, CAPTURE_KINDS } from './capture-kinds.js'
import type { NormalizedCaptureRequest } from './capture-request.js'
import type { ResolvedConfig } from './config.js'
import type { CaptureMeta } from './types.js'

/** SHA-256 of zero bytes: the digest of a failed capture's empty body. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

/** The metadata of a capture that has just started. */
export function runningCaptureMeta(
  id: string,
  startedAt: Date,
  request: NormalizedCaptureRequest,
  config: ResolvedConfig,
): CaptureMeta {
  const meta: CaptureMeta = {
    id,
    kind: request.kind,
    status: 'running',
    trigger: request.trigger,
    requested: {
      durationMs: request.durationMs,
      mode: request.mode,
      ...(request.samplingIntervalUs !== undefined && { samplingIntervalUs: request.samplingIntervalUs }),
      ...(request.samplingIntervalBytes !== undefined && {
        samplingIntervalBytes: request.samplingIntervalBytes,
      }),
    },
    startedAt: startedAt.toISOString(),
    bytes: 0,
    sha256: EMPTY_SHA256,
    contentType: CAPTURE_KINDS[request.kind].contentType,
    fileName: captureFileName(id, request.kind),
    host: hostname(),
    pid: process.pid,
    service: config.service,
    version: config.version,
    runtime: { node: process.version, v8: process.versions.v8 },
    labels: { ...config.labels, ...request.labels },
  }
  if (request.request !== undefined) meta.request = request.request
  if (request.slo !== undefined) meta.slo = request.slo
  return meta
}
