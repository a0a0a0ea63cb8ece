import { resolve } from 'node:path'
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3'
import { didYouMean } from '../../did-you-mean.js'
import type { TripwireError } from '../../errors.js'
import { defaultLogger } from '../../logger.js'
import { OptionChecker } from '../../option-checks.js'
import type { BackoffPolicy } from './backoff.js'
import { normalizePrefix, serviceSegment } from './keys.js'

/** Server-side encryption of every object the sink writes. */
export type S3SinkSse = { type: 'AES256' } | { type: 'aws:kms'; kmsKeyId?: string }

/**
 * Storage classes whose objects `GetObject` can read at once. Archive classes (GLACIER, DEEP_ARCHIVE) are
 * refused: a capture stored there cannot be downloaded without a restore.
 */
export const S3_STORAGE_CLASSES = [
  'STANDARD',
  'STANDARD_IA',
  'ONEZONE_IA',
  'INTELLIGENT_TIERING',
  'GLACIER_IR',
  'REDUCED_REDUNDANCY',
] as const

export type S3SinkStorageClass = (typeof S3_STORAGE_CLASSES)[number]

export interface S3SpoolOptions {
  /**
   * The local directory captures are written to before they are uploaded (files 0600, created 0700). One per
   * process: two live sinks on one spool would both upload (harmlessly, but twice). Required.
   */
  dir: string
  /**
   * The most bytes of capture bodies kept waiting; beyond it the oldest waiting capture is dropped (reported
   * with ERR_TRIPWIRE_SINK_SPOOL_FULL). The newest capture is always kept. `Infinity` turns it off.
   * @default 1073741824 (1 GiB)
   */
  maxBytes?: number
  /**
   * The most captures kept waiting; beyond it the oldest is dropped (reported). `Infinity` turns it off.
   * @default 100
   */
  maxCount?: number
}

export interface S3RetryOptions {
  /**
   * The wait after the first failed upload, in ms; it doubles with each failure in a row (with jitter).
   * @default 1000
   */
  baseMs?: number
  /**
   * The longest wait between attempts, in ms. Uploads are retried until they succeed.
   * @default 60000
   */
  maxMs?: number
}

/**
 * How many captures the bucket keeps, applied by listing (each instance applies it to the whole prefix, or to
 * its `service` folder when that option is set). Off by default: a bucket lifecycle rule is cheaper for age.
 */
export interface S3RetentionOptions {
  /** The most captures kept; the oldest beyond it are deleted. */
  maxCount?: number
  /** Captures older than this, in ms (by the start time in their id), are deleted. */
  maxAgeMs?: number
}

export interface S3PresignOptions {
  /**
   * How long a presigned download URL is valid, in seconds, from 1 to 604800 (7 days, the SigV4 limit).
   * @default 300
   */
  expiresInSec?: number
}

export interface S3SinkOptions {
  /** The bucket captures are stored in. Required. */
  bucket: string
  /**
   * The key prefix: captures are stored at `<prefix>/<service>/<yyyy>/<mm>/<dd>/<id>.<ext>` and `<id>.json`.
   * `''` stores at the bucket's root.
   * @default 'tripwire'
   */
  prefix?: string
  /**
   * Only this service's captures are listed, served, deleted and subject to retention. Captures are always
   * stored under their own `meta.service`.
   * @default every service under the prefix
   */
  service?: string
  /** A ready client (it is never destroyed by the sink). Give this or `clientConfig`, not both. */
  client?: S3Client
  /**
   * The configuration of the client the sink creates: `region`, `endpoint`, `forcePathStyle`, `credentials`
   * (default: the SDK's default chain), `requestChecksumCalculation`/`responseChecksumValidation` for stores
   * that reject the SDK's default checksums, … A default request timeout is added when `requestHandler` is not
   * given.
   * @default {} (region and credentials from the environment)
   */
  clientConfig?: S3ClientConfig
  /** Server-side encryption of every object written. @default the bucket's default encryption */
  sse?: S3SinkSse
  /**
   * The storage class of capture bodies. Metadata objects stay STANDARD: they are small and `list` reads them.
   * @default the bucket's default (STANDARD)
   */
  storageClass?: S3SinkStorageClass
  /** Object tags on every object written (at most 10; needs s3:PutObjectTagging). @default none */
  tags?: Record<string, string>
  /**
   * Lets `presignedUrl(id)` answer, so the admin API can redirect downloads to S3. `false` = downloads are
   * streamed through the service.
   * @default false
   */
  presign?: S3PresignOptions | false
  spool: S3SpoolOptions
  retry?: S3RetryOptions
  /** @default off (see S3RetentionOptions) */
  retention?: S3RetentionOptions
  /**
   * How long `close()` keeps uploading the spool, in ms; what is left is uploaded at the next start. Keep it
   * under the controller's `closeTimeoutMs` (5000 by default).
   * @default 3000
   */
  closeTimeoutMs?: number
  /**
   * Receives background failures (uploads, dropped spool entries, retention), which never fail a call.
   * Repeated upload failures of the same kind are reported once until an upload succeeds.
   * @default log them with Tripwire's default logger (process.emitWarning)
   */
  onError?: (error: TripwireError) => void
}

export type S3ClientSource = { client: S3Client } | { config: S3ClientConfig }

export interface ResolvedS3SinkOptions {
  bucket: string
  /** Empty, or ending in `/`. */
  prefix: string
  /** The key segment of the `service` option, when set. */
  serviceSegment: string | undefined
  clientSource: S3ClientSource
  sse: S3SinkSse | undefined
  storageClass: S3SinkStorageClass | undefined
  /** URL-encoded `k=v&…`, the form of the `x-amz-tagging` header. */
  tagging: string | undefined
  presignExpiresInSec: number | undefined
  spool: { dir: string; maxBytes: number; maxCount: number }
  retry: BackoffPolicy
  retention: { maxCount: number; maxAgeMs: number } | undefined
  closeTimeoutMs: number
  onError: (error: TripwireError) => void
}

export const MAX_PRESIGN_EXPIRY_SEC = 7 * 24 * 60 * 60
const DEFAULT_PRESIGN_EXPIRY_SEC = 300
/** A request that has sent nothing for this long is abandoned (and retried), so one hung socket cannot stall uploads. */
const DEFAULT_REQUEST_TIMEOUT_MS = 60_000
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000
const MAX_TAGS = 10

const OPTION_KEYS = [
  'bucket',
  'prefix',
  'service',
  'client',
  'clientConfig',
  'sse',
  'storageClass',
  'tags',
  'presign',
  'spool',
  'retry',
  'retention',
  'closeTimeoutMs',
  'onError',
] as const

export function checkS3SinkOptions(options: unknown): ResolvedS3SinkOptions {
  const check = new OptionChecker('S3Sink')
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    check.fail(
      'bucket',
      'is required: new S3Sink({ bucket: "my-profiles", spool: { dir: "./tripwire-spool" } })',
    )
  }
  const raw = check.object('', options, OPTION_KEYS)
  const bucket = check.string('bucket', raw.bucket)
  if (/[/\s]/.test(bucket))
    check.fail('bucket', `must be a bucket name without "/" or spaces, got "${bucket}"`)
  return {
    bucket,
    prefix: checkPrefix(check, raw.prefix),
    serviceSegment:
      raw.service === undefined ? undefined : serviceSegment(check.string('service', raw.service)),
    clientSource: checkClient(check, raw.client, raw.clientConfig),
    sse: checkSse(check, raw.sse),
    storageClass: checkStorageClass(check, raw.storageClass),
    tagging: checkTags(check, raw.tags),
    presignExpiresInSec: checkPresign(check, raw.presign),
    spool: checkSpool(check, raw.spool),
    retry: checkRetry(check, raw.retry),
    retention: checkRetention(check, raw.retention),
    closeTimeoutMs: check.integer('closeTimeoutMs', raw.closeTimeoutMs, 3000, 0, 600_000),
    onError: checkOnError(check, raw.onError),
  }
}

function checkPrefix(check: OptionChecker, value: unknown): string {
  if (value === undefined) return 'tripwire/'
  if (typeof value !== 'string') check.fail('prefix', `must be a string, got ${typeof value}`)
  const normalized = normalizePrefix(value)
  if ('problem' in normalized) check.fail('prefix', normalized.problem)
  return normalized.prefix
}

function checkClient(check: OptionChecker, client: unknown, config: unknown): S3ClientSource {
  if (client !== undefined && config !== undefined) {
    check.fail(
      'client',
      'and "clientConfig" cannot both be given: pass a ready S3Client or its configuration',
    )
  }
  if (client !== undefined) {
    // Duck-typed: with two installed copies of the SDK, instanceof S3Client would refuse a good client.
    if (typeof client !== 'object' || client === null || typeof (client as S3Client).send !== 'function') {
      check.fail('client', 'must be an S3Client from @aws-sdk/client-s3')
    }
    return { client: client as S3Client }
  }
  if (config !== undefined && (typeof config !== 'object' || config === null || Array.isArray(config))) {
    check.fail('clientConfig', 'must be an S3ClientConfig object')
  }
  const resolved: S3ClientConfig = { ...(config as S3ClientConfig | undefined) }
  resolved.requestHandler ??= {
    connectionTimeout: DEFAULT_CONNECT_TIMEOUT_MS,
    requestTimeout: DEFAULT_REQUEST_TIMEOUT_MS,
  }
  return { config: resolved }
}

function checkSse(check: OptionChecker, value: unknown): S3SinkSse | undefined {
  if (value === undefined) return undefined
  const sse = check.object('sse', value, ['type', 'kmsKeyId'])
  if (sse.type === 'AES256') {
    if (sse.kmsKeyId !== undefined) check.fail('sse.kmsKeyId', 'needs sse.type "aws:kms"')
    return { type: 'AES256' }
  }
  if (sse.type === 'aws:kms') {
    if (sse.kmsKeyId === undefined) return { type: 'aws:kms' }
    return { type: 'aws:kms', kmsKeyId: check.string('sse.kmsKeyId', sse.kmsKeyId) }
  }
  const hint = typeof sse.type === 'string' ? didYouMean(sse.type, ['AES256', 'aws:kms']) : undefined
  return check.fail('sse.type', `must be "AES256" or "aws:kms"${hint ? `; did you mean "${hint}"?` : ''}`)
}

function checkStorageClass(check: OptionChecker, value: unknown): S3SinkStorageClass | undefined {
  if (value === undefined) return undefined
  if ((S3_STORAGE_CLASSES as readonly unknown[]).includes(value)) return value as S3SinkStorageClass
  if (value === 'GLACIER' || value === 'DEEP_ARCHIVE') {
    check.fail(
      'storageClass',
      `"${value}" is an archive class: captures there cannot be downloaded without a restore. ` +
        'Use GLACIER_IR, or a lifecycle rule that archives old captures',
    )
  }
  const hint = typeof value === 'string' ? didYouMean(value, S3_STORAGE_CLASSES) : undefined
  return check.fail(
    'storageClass',
    `must be one of ${S3_STORAGE_CLASSES.join(', ')}${hint ? `; did you mean "${hint}"?` : ''}`,
  )
}

function checkTags(check: OptionChecker, value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    check.fail('tags', 'must be an object of string values, e.g. { team: "payments" }')
  }
  const entries = Object.entries(value)
  if (entries.length === 0) return undefined
  if (entries.length > MAX_TAGS) check.fail('tags', `may hold at most ${MAX_TAGS} tags (an S3 limit)`)
  const allowed = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u
  for (const [key, tag] of entries) {
    if (key.length < 1 || key.length > 128 || !allowed.test(key)) {
      check.fail(`tags.${key}`, 'must be a key of 1-128 letters, digits, spaces or _ . : / = + - @')
    }
    if (typeof tag !== 'string' || tag.length > 256 || !allowed.test(tag)) {
      check.fail(`tags.${key}`, 'must be a string of at most 256 letters, digits, spaces or _ . : / = + - @')
    }
  }
  return new URLSearchParams(entries as [string, string][]).toString()
}

function checkPresign(check: OptionChecker, value: unknown): number | undefined {
  if (value === undefined || value === false) return undefined
  const presign = check.object('presign', value, ['expiresInSec'])
  return check.integer(
    'presign.expiresInSec',
    presign.expiresInSec,
    DEFAULT_PRESIGN_EXPIRY_SEC,
    1,
    MAX_PRESIGN_EXPIRY_SEC,
  )
}

function checkSpool(check: OptionChecker, value: unknown): ResolvedS3SinkOptions['spool'] {
  if (value === undefined) {
    check.fail(
      'spool',
      'is required: spool: { dir: "./tripwire-spool" } (captures wait there until uploaded)',
    )
  }
  const spool = check.object('spool', value, ['dir', 'maxBytes', 'maxCount'])
  return {
    dir: resolve(check.string('spool.dir', spool.dir)),
    maxBytes:
      spool.maxBytes === Infinity
        ? Infinity
        : check.integer('spool.maxBytes', spool.maxBytes, 1024 ** 3, 1, Infinity),
    maxCount:
      spool.maxCount === Infinity
        ? Infinity
        : check.integer('spool.maxCount', spool.maxCount, 100, 1, Infinity),
  }
}

function checkRetry(check: OptionChecker, value: unknown): BackoffPolicy {
  const retry = check.object('retry', value, ['baseMs', 'maxMs'])
  const baseMs = check.integer('retry.baseMs', retry.baseMs, 1000, 1, 3_600_000)
  const maxMs = check.integer('retry.maxMs', retry.maxMs, Math.max(60_000, baseMs), 1, 3_600_000)
  if (maxMs < baseMs) check.fail('retry.maxMs', `must be at least retry.baseMs (${baseMs}), got ${maxMs}`)
  return { baseMs, maxMs }
}

function checkRetention(check: OptionChecker, value: unknown): ResolvedS3SinkOptions['retention'] {
  if (value === undefined) return undefined
  const retention = check.object('retention', value, ['maxCount', 'maxAgeMs'])
  const maxCount =
    retention.maxCount === Infinity
      ? Infinity
      : check.integer('retention.maxCount', retention.maxCount, Infinity, 1, Infinity)
  const maxAgeMs =
    retention.maxAgeMs === Infinity
      ? Infinity
      : check.number('retention.maxAgeMs', retention.maxAgeMs, Infinity, 1, Infinity)
  return maxCount === Infinity && maxAgeMs === Infinity ? undefined : { maxCount, maxAgeMs }
}

function checkOnError(check: OptionChecker, onError: unknown): (error: TripwireError) => void {
  if (onError === undefined) {
    return (error) => defaultLogger.error(`tripwire: ${error.message}`, { code: error.code })
  }
  if (typeof onError !== 'function') check.fail('onError', `must be a function, got ${typeof onError}`)
  return onError as (error: TripwireError) => void
}
