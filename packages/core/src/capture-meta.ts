import cluster from 'node:cluster'
import { hostname } from 'node:os'
import { isMainThread, threadId } from 'node:worker_threads'
import { captureFileName, CAPTURE_KINDS } from './capture-kinds.js'
import type { NormalizedCaptureRequest } from './capture-request.js'
import type { ResolvedConfig } from './config.js'
import type { CaptureMeta } from './types.js'

/** SHA-256 of zero bytes: the digest of a failed capture's empty body. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

/** Where in a multi-process or multi-threaded service the code runs. */
export interface ExecutionPlace {
  /** `cluster.worker.id` in a `node:cluster` worker process; undefined in a primary or a plain process. */
  clusterWorkerId: number | undefined
  /** `threadId` in a `worker_threads` Worker; undefined on the main thread. */
  threadId: number | undefined
}

/** Read once: a process never becomes a cluster worker, and a thread never changes its id. */
const CURRENT_PLACE: ExecutionPlace = {
  clusterWorkerId: cluster.worker?.id,
  threadId: isMainThread ? undefined : threadId,
}

/**
 * The labels that tell captures of one host apart when several processes or threads capture: the pid alone
 * does not say which cluster worker a process was, and every thread of a process has the same pid. The main
 * thread of a plain process gets none, so its metadata is unchanged.
 */
export function automaticLabels(place: ExecutionPlace = CURRENT_PLACE): Record<string, string> {
  const labels: Record<string, string> = {}
  if (place.clusterWorkerId !== undefined) labels.clusterWorker = String(place.clusterWorkerId)
  if (place.threadId !== undefined) labels.thread = String(place.threadId)
  return labels
}

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
    // the user's labels win: someone who already names workers their own way keeps their names
    labels: { ...automaticLabels(), ...config.labels, ...request.labels },
  }
  if (request.request !== undefined) meta.request = request.request
  if (request.slo !== undefined) meta.slo = request.slo
  return meta
}
