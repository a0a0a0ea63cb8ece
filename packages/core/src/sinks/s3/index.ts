/**
 * `@tripwire/core/s3`: the S3 sink. A subpath of its own so that `@tripwire/core` never loads the AWS SDK; the
 * SDK packages are optional peer dependencies, needed only by those who import this.
 */
export { S3Sink, RETENTION_INTERVAL_MS } from './s3-sink.js'
export type { S3CheckOptions, S3CheckReport, S3FlushReport, S3SinkStatus } from './s3-sink.js'
export { MAX_PRESIGN_EXPIRY_SEC, S3_STORAGE_CLASSES } from './options.js'
export type {
  S3PresignOptions,
  S3RetentionOptions,
  S3RetryOptions,
  S3SinkOptions,
  S3SinkSse,
  S3SinkStorageClass,
  S3SpoolOptions,
} from './options.js'
export { MAX_LIST_REQUESTS_PER_CALL } from './bucket-walk.js'
export { MAX_RETENTION_KEYS } from './retention.js'
export type { S3RetentionReport } from './retention.js'
export { MAX_S3_LIST_LIMIT } from './sink-input.js'
export type { UploadFailure } from './uploader.js'
