import { Readable } from 'node:stream'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import type * as PresignerModule from '@aws-sdk/s3-request-presigner'
import { kindOfCaptureId } from '../../capture-id.js'
import { CAPTURE_KINDS, captureFileName } from '../../capture-kinds.js'
import { ErrorCodes, TripwireError } from '../../errors.js'
import type { CaptureMeta } from '../../types.js'
import type { CaptureKeys } from './keys.js'
import type { S3SinkSse, S3SinkStorageClass } from './options.js'
import { isMissingObject, toS3SinkError } from './s3-errors.js'

export interface ObjectStoreConfig {
  bucket: string
  sse: S3SinkSse | undefined
  storageClass: S3SinkStorageClass | undefined
  /** URL-encoded `k=v&…`. */
  tagging: string | undefined
  /** The client to use now (the sink re-creates its own after `close()`). */
  client: () => S3Client
}

/** Counts the requests of one operation, so that a `list` call can bound its work. */
export interface RequestBudget {
  spent: number
}

export interface ListedObject {
  key: string
  lastModified: Date | undefined
}

/**
 * Bodies are cut into parts of at least this size. lib-storage holds `PART_QUEUE` parts in memory at once, so
 * an upload of any size costs about 16 MiB of buffers, never the whole body.
 */
const MIN_PART_BYTES = 8 * 1024 * 1024
const PART_QUEUE = 2
/** S3's limit on parts per multipart upload. */
const MAX_PARTS = 10_000
/** Metadata objects are a few KB; anything far larger at a metadata key is not ours and is not read. */
const MAX_META_BYTES = 1024 * 1024
const LIST_PAGE = 1000

/**
 * The S3 requests of the sink, each mapped to a coded error. Knows objects and keys, not the layout.
 */
export class CaptureObjectStore {
  readonly #config: ObjectStoreConfig

  constructor(config: ObjectStoreConfig) {
    this.#config = config
  }

  get bucket(): string {
    return this.#config.bucket
  }

  /**
   * Uploads the body (streamed; multipart above one part) and then the metadata: the metadata object is what
   * makes a capture visible to `list`, so a reader never finds metadata without its body. Takes ownership of
   * `body` (destroyed when this settles).
   */
  async putCapture(keys: CaptureKeys, meta: CaptureMeta, body: Readable, bytes: number, signal: AbortSignal) {
    const common = this.#writeParams(meta)
    try {
      await this.#putBody(keys.body, meta, body, bytes, common, signal)
    } finally {
      body.destroy()
    }
    const json = `${JSON.stringify(meta, null, 2)}\n`
    await this.#send(
      `store the metadata of ${meta.id}`,
      (client) =>
        client.send(
          new PutObjectCommand({ ...common, Key: keys.meta, Body: json, ContentType: 'application/json' }),
          { abortSignal: signal },
        ),
      'object',
    )
  }

  /** The metadata at `key` when it exists and is `id`'s; unreadable metadata reads as absent. */
  async readMeta(key: string, id: string): Promise<CaptureMeta | undefined> {
    let text: string
    try {
      const response = await this.#config
        .client()
        .send(new GetObjectCommand({ Bucket: this.bucket, Key: key }))
      if ((response.ContentLength ?? 0) > MAX_META_BYTES) {
        toNodeReadable(response.Body).destroy()
        return undefined
      }
      text = await (response.Body as { transformToString(): Promise<string> }).transformToString()
    } catch (error) {
      if (isMissingObject(error)) return undefined
      throw toS3SinkError(error, `read the metadata of ${id}`, this.bucket)
    }
    try {
      const meta: unknown = JSON.parse(text)
      return isMetaOf(meta, id) ? meta : undefined
    } catch {
      return undefined
    }
  }

  /** A stream of the object at `key`, or undefined when it does not exist. The caller consumes or destroys it. */
  async openBody(key: string, id: string): Promise<Readable | undefined> {
    try {
      const response = await this.#config
        .client()
        .send(new GetObjectCommand({ Bucket: this.bucket, Key: key }))
      return toNodeReadable(response.Body)
    } catch (error) {
      if (isMissingObject(error)) return undefined
      throw toS3SinkError(error, `read the body of ${id}`, this.bucket)
    }
  }

  /** The "folders" directly under `prefix` (ending in `/`), every page. */
  async listFolders(prefix: string, budget: RequestBudget): Promise<string[]> {
    const folders: string[] = []
    let token: string | undefined
    do {
      budget.spent++
      const page = await this.#send(
        `list ${prefix || 'the bucket'}`,
        (client) =>
          client.send(
            new ListObjectsV2Command({
              Bucket: this.bucket,
              Prefix: prefix,
              Delimiter: '/',
              MaxKeys: LIST_PAGE,
              ...(token !== undefined && { ContinuationToken: token }),
            }),
          ),
        'bucket',
      )
      for (const common of page.CommonPrefixes ?? []) if (common.Prefix) folders.push(common.Prefix)
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined
    } while (token !== undefined)
    return folders
  }

  /** Every object under `prefix`, one page (up to 1000, in key order) at a time. */
  async *listObjects(
    prefix: string,
    budget?: RequestBudget,
    signal?: AbortSignal,
  ): AsyncGenerator<ListedObject[]> {
    let token: string | undefined
    do {
      if (budget !== undefined) budget.spent++
      const page = await this.#send(
        `list ${prefix || 'the bucket'}`,
        (client) =>
          client.send(
            new ListObjectsV2Command({
              Bucket: this.bucket,
              Prefix: prefix,
              MaxKeys: LIST_PAGE,
              ...(token !== undefined && { ContinuationToken: token }),
            }),
            signal === undefined ? {} : { abortSignal: signal },
          ),
        'bucket',
      )
      yield (page.Contents ?? []).flatMap((item) =>
        item.Key === undefined ? [] : [{ key: item.Key, lastModified: item.LastModified }],
      )
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined
    } while (token !== undefined)
  }

  /** Deleting a missing object succeeds, as in S3. */
  async deleteObject(key: string, signal?: AbortSignal): Promise<void> {
    await this.#send(
      `delete ${key}`,
      (client) =>
        client.send(
          new DeleteObjectCommand({ Bucket: this.bucket, Key: key }),
          signal === undefined ? {} : { abortSignal: signal },
        ),
      'object',
    )
  }

  /**
   * The bucket exists and the credentials may list the prefix. One ListObjectsV2 rather than HeadBucket: it
   * needs only the prefix-scoped s3:ListBucket of the least-privilege policy (HeadBucket carries no prefix,
   * so such a policy denies it), and its errors have bodies that name the problem.
   */
  async checkBucket(prefix: string): Promise<void> {
    await this.#send(
      `list ${prefix || 'the root'} of bucket ${this.bucket}`,
      (client) => client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, MaxKeys: 1 })),
      'bucket',
    )
  }

  /** Writes and deletes a small object with the configured encryption and tags. */
  async checkWrite(key: string): Promise<void> {
    const params = { ...this.#writeParams(undefined), Key: key, Body: 'tripwire S3Sink write check\n' }
    await this.#send(`write ${key}`, (client) => client.send(new PutObjectCommand(params)), 'object')
    await this.deleteObject(key)
  }

  /** A GET URL for the body at `key`, signed for `expiresInSec`, that downloads under the capture's file name. */
  async presignBody(key: string, meta: CaptureMeta, expiresInSec: number): Promise<string> {
    const { getSignedUrl } = await loadPresigner()
    const command = new GetObjectCommand({
      Bucket: this.bucket,
      Key: key,
      ResponseContentDisposition: `attachment; filename="${captureFileName(meta.id, meta.kind)}"`,
      ResponseContentType: CAPTURE_KINDS[meta.kind].contentType,
    })
    try {
      return await getSignedUrl(this.#config.client(), command, { expiresIn: expiresInSec })
    } catch (error) {
      throw toS3SinkError(error, `presign a download of ${meta.id}`, this.bucket)
    }
  }

  async #putBody(
    key: string,
    meta: CaptureMeta,
    body: Readable,
    bytes: number,
    common: Omit<PutObjectCommandInput, 'Key'>,
    signal: AbortSignal,
  ): Promise<void> {
    const params: PutObjectCommandInput = {
      ...common,
      Key: key,
      ContentType: CAPTURE_KINDS[meta.kind].contentType,
      ContentDisposition: `attachment; filename="${captureFileName(meta.id, meta.kind)}"`,
      ...(this.#config.storageClass !== undefined && { StorageClass: this.#config.storageClass }),
    }
    if (bytes === 0) {
      // lib-storage has no part to send for an empty stream; a failed capture's empty body is one PutObject.
      await this.#send(
        `store the body of ${meta.id}`,
        (client) =>
          client.send(new PutObjectCommand({ ...params, Body: Buffer.alloc(0) }), { abortSignal: signal }),
        'object',
      )
      return
    }
    const abortController = new AbortController()
    const abort = () => abortController.abort()
    signal.addEventListener('abort', abort, { once: true })
    try {
      const upload = new Upload({
        client: this.#config.client(),
        // ContentLength lets lib-storage check that every part arrived: a short spool file fails the upload.
        params: { ...params, Body: body, ContentLength: bytes },
        partSize: Math.max(MIN_PART_BYTES, Math.ceil(bytes / MAX_PARTS)),
        queueSize: PART_QUEUE,
        leavePartsOnError: false,
        abortController,
      })
      await upload.done()
    } catch (error) {
      throw toS3SinkError(error, `upload the body of ${meta.id} (${bytes} bytes)`, this.bucket)
    } finally {
      signal.removeEventListener('abort', abort)
    }
  }

  /** Encryption, tags and descriptive metadata shared by every object the sink writes. */
  #writeParams(meta: CaptureMeta | undefined): Omit<PutObjectCommandInput, 'Key'> {
    const { sse, tagging } = this.#config
    return {
      Bucket: this.bucket,
      ...(sse !== undefined && { ServerSideEncryption: sse.type }),
      ...(sse?.type === 'aws:kms' && sse.kmsKeyId !== undefined && { SSEKMSKeyId: sse.kmsKeyId }),
      ...(tagging !== undefined && { Tagging: tagging }),
      ...(meta !== undefined && {
        // x-amz-meta-* values must be ASCII: names chosen by users are percent-encoded
        Metadata: {
          'tripwire-id': meta.id,
          'tripwire-kind': meta.kind,
          'tripwire-service': encodeURIComponent(meta.service),
          'tripwire-host': encodeURIComponent(meta.host),
          'tripwire-pid': String(meta.pid),
          'tripwire-sha256': meta.sha256,
        },
      }),
    }
  }

  async #send<T>(
    action: string,
    request: (client: S3Client) => Promise<T>,
    target: 'bucket' | 'object',
  ): Promise<T> {
    try {
      return await request(this.#config.client())
    } catch (error) {
      throw toS3SinkError(error, action, this.bucket, target)
    }
  }
}

function isMetaOf(value: unknown, id: string): value is CaptureMeta {
  if (typeof value !== 'object' || value === null) return false
  const meta = value as Partial<CaptureMeta>
  return meta.id === id && meta.kind === kindOfCaptureId(id)
}

/** The SDK's body is a Node stream under its Node HTTP handler, a web stream under fetch. */
function toNodeReadable(body: unknown): Readable {
  if (body instanceof Readable) return body
  const web = body as { transformToWebStream?: () => unknown } | undefined
  if (typeof web?.transformToWebStream === 'function') {
    return Readable.fromWeb(web.transformToWebStream() as WebReadableStream)
  }
  throw new TripwireError(ErrorCodes.SINK_IO, 'S3Sink: the S3 client returned a body that is not a stream')
}

type Presigner = typeof PresignerModule

let presigner: Promise<Presigner> | undefined

/** Loaded on first use: the presigner is an optional peer dependency, needed only with the `presign` option. */
function loadPresigner(): Promise<Presigner> {
  presigner ??= import('@aws-sdk/s3-request-presigner').catch((error: unknown) => {
    presigner = undefined
    throw new TripwireError(
      ErrorCodes.INVALID_OPTIONS,
      'S3Sink: the presign option needs @aws-sdk/s3-request-presigner: npm install @aws-sdk/s3-request-presigner',
      { cause: error },
    )
  })
  return presigner
}
