/**
 * S3Sink against a real S3-compatible server (fauxqs, in process, on 127.0.0.1): uploads, listing across
 * instances, paging, delete, presigned downloads, outages, the spool's bound, retention and check().
 * fauxqs accepts any credentials, so the harness refuses every access key but ACCESS_KEY the way S3 does
 * (403 InvalidAccessKeyId), which is what the wrong-credentials case needs.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import { buildApp } from 'fauxqs'
import { createCaptureId } from '../src/capture-id.js'
import { CAPTURE_KINDS, captureFileName } from '../src/capture-kinds.js'
import { createAdminHandler } from '../src/admin/admin-handler.js'
import { createTripwire } from '../src/controller.js'
import { ErrorCodes, isTripwireError, type TripwireError } from '../src/errors.js'
import { S3Sink, type S3SinkOptions } from '../src/sinks/s3/index.js'
import type { CaptureKind, CaptureMeta } from '../src/types.js'

const ACCESS_KEY = 'tripwire-test'
const SECRET_KEY = 'tripwire-test-secret'
const DAY = 24 * 60 * 60 * 1000
/** Every wait in this file gives up after this long. */
const WAIT_MS = 15_000

interface S3Server {
  port: number
  endpoint: string
  stop(): Promise<void>
}

/** fauxqs on 127.0.0.1 (its own startFauxqs listens on every interface), with an access key check. */
async function startS3(port = 0): Promise<S3Server> {
  const app = buildApp({ logger: false })
  app.addHook('onRequest', async (request, reply) => {
    const url = new URL(request.url, 'http://127.0.0.1')
    const credential =
      /Credential=([^/,\s]+)/.exec(request.headers.authorization ?? '')?.[1] ??
      url.searchParams.get('X-Amz-Credential')?.split('/')[0]
    if (credential === ACCESS_KEY) return
    const error =
      '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidAccessKeyId</Code>' +
      '<Message>The AWS Access Key Id you provided does not exist in our records.</Message></Error>'
    return reply.code(403).header('content-type', 'application/xml').send(error)
  })
  await app.listen({ port, host: '127.0.0.1' })
  const bound = (app.server.address() as AddressInfo).port
  return { port: bound, endpoint: `http://127.0.0.1:${bound}`, stop: () => app.close() }
}

function clientFor(server: S3Server, accessKeyId = ACCESS_KEY): S3Client {
  return new S3Client({
    endpoint: server.endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId, secretAccessKey: SECRET_KEY },
    // a stopped server must fail fast, not after the SDK's own retries
    maxAttempts: 1,
  })
}

let root: string
let server: S3Server
let admin: S3Client
let counter = 0
const sinks: S3Sink[] = []

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tripwire-s3-'))
  server = await startS3()
  admin = clientFor(server)
})

after(async () => {
  await Promise.all(sinks.map((sink) => sink.close(0)))
  admin.destroy()
  await server.stop()
  await rm(root, { recursive: true, force: true })
})

async function newBucket(target = server): Promise<string> {
  const bucket = `bucket-${counter++}`
  const client = clientFor(target)
  await client.send(new CreateBucketCommand({ Bucket: bucket }))
  client.destroy()
  return bucket
}

interface SinkSetup extends Partial<S3SinkOptions> {
  bucket: string
  target?: S3Server
  errors?: TripwireError[]
}

/** A sink on its own spool directory, closed after the file. Errors go to `errors` (thrown if not given). */
function sinkFor(setup: SinkSetup): S3Sink {
  const { target = server, errors, ...options } = setup
  const sink = new S3Sink({
    ...(options.client === undefined && {
      clientConfig: {
        endpoint: target.endpoint,
        forcePathStyle: true,
        region: 'us-east-1',
        credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
        maxAttempts: 1,
      },
    }),
    spool: { dir: join(root, `spool-${counter++}`) },
    retry: { baseMs: 20, maxMs: 200 },
    onError: (error) => {
      if (errors === undefined) throw error
      errors.push(error)
    },
    ...options,
  })
  sinks.push(sink)
  return sink
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

function metaFor(kind: CaptureKind, at: Date, body: Uint8Array, service = 'checkout'): CaptureMeta {
  const id = createCaptureId(kind, at)
  return {
    id,
    kind,
    status: 'completed',
    trigger: { type: 'admin', subject: 'ops@example.com', reason: 's3 test' },
    requested: { durationMs: 1000, mode: 'window' },
    startedAt: at.toISOString(),
    endedAt: new Date(at.getTime() + 1000).toISOString(),
    durationMs: 1000,
    bytes: body.length,
    sha256: sha256(body),
    contentType: CAPTURE_KINDS[kind].contentType,
    fileName: captureFileName(id, kind),
    host: 'web-1',
    pid: 4242,
    service,
    version: '1.0.0',
    runtime: { node: process.versions.node, v8: process.versions.v8 },
    labels: {},
  }
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

async function bodyOf(sink: S3Sink, id: string): Promise<Buffer> {
  const stored = await sink.get(id)
  assert.ok(stored, `capture ${id} is there`)
  return readAll(stored.body)
}

async function keysIn(bucket: string): Promise<string[]> {
  const page = await admin.send(new ListObjectsV2Command({ Bucket: bucket }))
  return (page.Contents ?? []).map((item) => item.Key!).sort()
}

/** Polls `condition` every 20 ms; fails after WAIT_MS. */
async function waitFor(what: string, condition: () => boolean | Promise<boolean>): Promise<void> {
  const end = performance.now() + WAIT_MS
  while (!(await condition())) {
    if (performance.now() > end) assert.fail(`timed out waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

async function flushed(sink: S3Sink): Promise<void> {
  const report = await sink.flush(WAIT_MS)
  assert.equal(report.remaining, 0, `everything uploaded (last error: ${report.lastError?.message})`)
}

async function rejection(promise: Promise<unknown>): Promise<TripwireError> {
  try {
    await promise
  } catch (error) {
    assert.ok(isTripwireError(error), `a TripwireError, got ${String(error)}`)
    return error
  }
  return assert.fail('expected a rejection')
}

/** A client that refuses uploads (PutObject, multipart) while `blocked`, and passes everything else on. */
function gatedClient(server: S3Server): { client: S3Client; gate: { blocked: boolean } } {
  const real = clientFor(server)
  const gate = { blocked: true }
  const send = (command: unknown, options?: unknown): Promise<unknown> => {
    if (
      gate.blocked &&
      (command instanceof PutObjectCommand || command instanceof CreateMultipartUploadCommand)
    ) {
      return Promise.reject(Object.assign(new Error('simulated outage'), { name: 'ServiceUnavailable' }))
    }
    return (real.send as (command: unknown, options?: unknown) => Promise<unknown>)(command, options)
  }
  const client = { config: real.config, send, destroy: () => real.destroy() } as unknown as S3Client
  return { client, gate }
}

describe('S3Sink options', () => {
  test('are checked once, with did-you-mean and the fix in the message', () => {
    const spool = { dir: join(tmpdir(), 'unused') }
    const cases: [unknown, RegExp][] = [
      [undefined, /"bucket" is required/],
      [{ bucekt: 'b', spool }, /"bucekt" is not known; did you mean "bucket"\?/],
      [{ bucket: 'b' }, /"spool" is required/],
      [{ bucket: 'b', spool: { dri: 'x' } }, /"spool.dri" is not known; did you mean "dir"\?/],
      [{ bucket: 'b', spool, client: admin, clientConfig: {} }, /cannot both be given/],
      [{ bucket: 'b', spool, client: {} }, /must be an S3Client/],
      [{ bucket: 'b', spool, storageClass: 'GLACIER' }, /archive class/],
      [{ bucket: 'b', spool, storageClass: 'STANDARD_AI' }, /did you mean "STANDARD_IA"\?/],
      [{ bucket: 'b', spool, sse: { type: 'AES265' } }, /did you mean "AES256"\?/],
      [{ bucket: 'b', spool, sse: { type: 'AES256', kmsKeyId: 'k' } }, /needs sse.type "aws:kms"/],
      [{ bucket: 'b', spool, presign: { expiresInSec: 604_801 } }, /from 1 to 604800/],
      [{ bucket: 'b', spool, prefix: 'a/../b' }, /"\.\."/],
      [{ bucket: 'b', spool, retry: { baseMs: 500, maxMs: 100 } }, /at least retry.baseMs/],
      [
        {
          bucket: 'b',
          spool,
          tags: Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`t${i}`, 'v'])),
        },
        /at most 10/,
      ],
    ]
    for (const [options, message] of cases) {
      assert.throws(
        () => new S3Sink(options as S3SinkOptions),
        (error: TripwireError) => error.code === ErrorCodes.INVALID_OPTIONS && message.test(error.message),
        String(message),
      )
    }
  })

  test('normalise the prefix and expose where things go', () => {
    const sink = new S3Sink({ bucket: 'b', prefix: '/team/profiles/', spool: { dir: 'relative-spool' } })
    assert.equal(sink.prefix, 'team/profiles/')
    assert.equal(sink.spoolDir, join(process.cwd(), 'relative-spool'))
    assert.equal(new S3Sink({ bucket: 'b', spool: { dir: 'x' } }).prefix, 'tripwire/')
    assert.equal(new S3Sink({ bucket: 'b', prefix: '', spool: { dir: 'x' } }).prefix, '')
  })
})

describe('S3Sink with a live store', () => {
  test('real CPU and heap captures round-trip through the controller', async () => {
    const bucket = await newBucket()
    const sink = sinkFor({ bucket })
    const tripwire = createTripwire({ service: 'checkout', sink, limits: { cooldownMs: 0 } })
    const cpu = await (await tripwire.start({ kind: 'cpu', durationMs: 150 })).done
    const heap = await (await tripwire.start({ kind: 'heap', durationMs: 150 })).done
    assert.equal(cpu.status, 'completed')
    assert.equal(heap.status, 'completed')
    await tripwire.close() // closes the sink, which flushes the spool
    assert.equal(sink.status().spooled, 0)
    assert.equal(sink.status().uploaded, 2)

    const keys = await keysIn(bucket)
    for (const meta of [cpu, heap]) {
      const day = `${meta.id.slice(0, 4)}/${meta.id.slice(4, 6)}/${meta.id.slice(6, 8)}`
      assert.ok(keys.includes(`tripwire/checkout/${day}/${meta.fileName}`), `body key of ${meta.id}`)
      assert.ok(keys.includes(`tripwire/checkout/${day}/${meta.id}.json`), `metadata key of ${meta.id}`)
    }
    const head = await admin.send(
      new HeadObjectCommand({ Bucket: bucket, Key: keys.find((k) => k.endsWith('.cpuprofile')) }),
    )
    assert.equal(head.Metadata?.['tripwire-sha256'], cpu.sha256)

    // read back by another instance: from S3, not from a spool
    const reader = sinkFor({ bucket })
    const page = await reader.list({ limit: 10 })
    assert.deepEqual(
      page.items.map((meta) => meta.id),
      [heap.id, cpu.id],
    )
    assert.deepEqual(page.items[1], cpu)
    for (const meta of [cpu, heap]) {
      const body = await bodyOf(reader, meta.id)
      assert.equal(sha256(body), meta.sha256)
      assert.ok(
        Array.isArray((JSON.parse(body.toString()) as { nodes?: unknown }).nodes) || meta.kind === 'heap',
      )
    }
  })

  test('a body over 5 MiB streams from the spool as a multipart upload, sha256 intact', async () => {
    const bucket = await newBucket()
    const sink = sinkFor({
      bucket,
      storageClass: 'STANDARD_IA',
      sse: { type: 'AES256' },
      tags: { team: 'perf' },
    })
    const body = randomBytes(12 * 1024 * 1024 + 123)
    const meta = metaFor('heap', new Date(), body)
    const chunks = Array.from({ length: Math.ceil(body.length / 65_536) }, (_, i) =>
      body.subarray(i * 65_536, (i + 1) * 65_536),
    )
    await sink.put(meta, Readable.from(chunks))
    await flushed(sink)
    const key = (await keysIn(bucket)).find((k) => k.endsWith('.heapprofile'))
    const head = await admin.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
    assert.match(head.ETag ?? '', /-2"?$/, 'two parts (the multipart ETag form)')
    assert.equal(head.ContentLength, body.length)
    const reader = sinkFor({ bucket })
    assert.equal(sha256(await bodyOf(reader, meta.id)), meta.sha256)
  })

  test('two instances share a bucket: either lists and serves both, newest first', async () => {
    const bucket = await newBucket()
    const api = sinkFor({ bucket })
    const worker = sinkFor({ bucket })
    const now = Date.now()
    // spread over days, months and years so that the walk crosses every folder level
    const ats = [0, 1, 40, 400, 2].map((days) => new Date(now - days * DAY))
    const metas = ats.map((at, index) => {
      const body = Buffer.from(`{"capture":${index}}`)
      return { meta: metaFor(index % 2 ? 'heap' : 'cpu', at, body, index < 3 ? 'api' : 'worker'), body }
    })
    for (const { meta, body } of metas) await (meta.service === 'api' ? api : worker).put(meta, body)
    await Promise.all([flushed(api), flushed(worker)])

    const expected = metas
      .map(({ meta }) => meta.id)
      .sort()
      .reverse()
    for (const sink of [api, worker, sinkFor({ bucket })]) {
      assert.deepEqual(
        (await sink.list({ limit: 100 })).items.map((meta) => meta.id),
        expected,
      )
    }
    const apiCapture = metas[0]!
    assert.deepEqual(await bodyOf(worker, apiCapture.meta.id), apiCapture.body)

    // the service option scopes everything to one service folder
    const scoped = sinkFor({ bucket, service: 'worker' })
    const workerIds = metas.filter(({ meta }) => meta.service === 'worker').map(({ meta }) => meta.id)
    assert.deepEqual(
      (await scoped.list({ limit: 100 })).items.map((meta) => meta.id),
      workerIds.sort().reverse(),
    )
    assert.equal(await scoped.get(apiCapture.meta.id), undefined)
  })

  test('pages follow the cursor to the end, filter by kind, and merge captures not uploaded yet', async () => {
    const bucket = await newBucket()
    const uploaded = sinkFor({ bucket })
    const now = Date.now()
    const stored: CaptureMeta[] = []
    for (let i = 0; i < 7; i++) {
      const meta = metaFor(
        i % 3 === 0 ? 'heap' : 'cpu',
        new Date(now - i * 0.4 * DAY - 2000),
        Buffer.from('{}'),
      )
      stored.push(meta)
      await uploaded.put(meta, Buffer.from('{}'))
    }
    await flushed(uploaded)

    // an instance whose uploads fail: its capture lives in its spool only, and still shows in its list
    const { client, gate } = gatedClient(server)
    const errors: TripwireError[] = []
    const pending = sinkFor({ bucket, client, errors })
    const local = metaFor('cpu', new Date(now), Buffer.from('{"local":true}'))
    await pending.put(local, Buffer.from('{"local":true}'))
    await waitFor('the upload has failed once', () => pending.status().lastError !== undefined)
    assert.equal(pending.status().spooled, 1)
    assert.equal(pending.status().lastError?.code, ErrorCodes.SINK_UNAVAILABLE)

    const all = [local, ...stored]
      .map((meta) => meta.id)
      .sort()
      .reverse()
    const seen: string[] = []
    let cursor: string | undefined
    for (let pages = 0; pages < 10; pages++) {
      const page = await pending.list(cursor === undefined ? { limit: 3 } : { limit: 3, cursor })
      assert.ok(page.items.length <= 3)
      seen.push(...page.items.map((meta) => meta.id))
      cursor = page.nextCursor
      if (cursor === undefined) break
    }
    assert.deepEqual(seen, all)
    assert.deepEqual(
      (await pending.list({ limit: 100, kind: 'heap' })).items.map((meta) => meta.id),
      stored.filter((meta) => meta.kind === 'heap').map((meta) => meta.id),
    )
    assert.deepEqual(await bodyOf(pending, local.id), Buffer.from('{"local":true}'))
    assert.equal(await pending.presignedUrl(local.id), undefined, 'presign is off')

    gate.blocked = false
    await flushed(pending)
    assert.equal(pending.status().lastError, undefined, 'a success clears the last error')
    assert.deepEqual(
      (await uploaded.list({ limit: 100 })).items.map((meta) => meta.id),
      all,
    )
    assert.equal(
      errors.length,
      1,
      `one report for the streak of failures: ${errors.map((e) => e.message).join('; ')}`,
    )
  })

  test('a sparse bucket is listed in bounded steps; foreign and corrupt objects are skipped', async () => {
    const bucket = await newBucket()
    const now = Date.now()
    // one capture a day for 80 days, written straight into the layout: more days than one call may read
    const ids: string[] = []
    for (let day = 0; day < 80; day++) {
      const meta = metaFor(day % 2 ? 'cpu' : 'heap', new Date(now - day * DAY), Buffer.from('{}'))
      const folder = `tripwire/checkout/${meta.id.slice(0, 4)}/${meta.id.slice(4, 6)}/${meta.id.slice(6, 8)}/`
      await admin.send(new PutObjectCommand({ Bucket: bucket, Key: `${folder}${meta.fileName}`, Body: '{}' }))
      await admin.send(
        new PutObjectCommand({ Bucket: bucket, Key: `${folder}${meta.id}.json`, Body: JSON.stringify(meta) }),
      )
      ids.push(meta.id)
    }
    const corrupt = createCaptureId('cpu', new Date(now - 3 * DAY + 1000))
    const day3 = `tripwire/checkout/${corrupt.slice(0, 4)}/${corrupt.slice(4, 6)}/${corrupt.slice(6, 8)}/`
    const foreign: [string, string][] = [
      [`${day3}${corrupt}.json`, 'not json'],
      [`${day3}notes.json`, '{}'],
      ['tripwire/README.txt', 'hello'],
      ['tripwire/checkout/2026/readme.json', '{}'],
      ['elsewhere/checkout/2026/01/01/20260101T000000Z-cpu-00000001.json', '{}'],
    ]
    for (const [key, body] of foreign) {
      await admin.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))
    }

    const sink = sinkFor({ bucket, retention: { maxAgeMs: 365 * DAY } })
    const first = await sink.list({ limit: 100 })
    assert.ok(first.items.length > 0 && first.items.length < 80, `a partial page (${first.items.length})`)
    assert.ok(first.nextCursor !== undefined)
    const seen = first.items.map((meta) => meta.id)
    let cursor: string | undefined = first.nextCursor
    for (let pages = 0; pages < 10 && cursor !== undefined; pages++) {
      const page = await sink.list({ limit: 100, cursor })
      seen.push(...page.items.map((meta) => meta.id))
      cursor = page.nextCursor
    }
    assert.equal(cursor, undefined)
    assert.deepEqual(seen, ids, 'every capture once, newest first; the corrupt one skipped')

    const report = await sink.applyRetention()
    assert.deepEqual(report, { examined: 81, deleted: 0, orphansDeleted: 0, complete: true })
    assert.equal((await keysIn(bucket)).length, 165, 'nothing foreign was deleted')
  })

  test('delete removes body and metadata, and a spooled copy with its pending upload', async () => {
    const bucket = await newBucket()
    const sink = sinkFor({ bucket })
    const body = Buffer.from('{"x":1}')
    const meta = metaFor('cpu', new Date(), body)
    await sink.put(meta, body)
    await flushed(sink)
    assert.equal((await keysIn(bucket)).length, 2)
    const other = sinkFor({ bucket })
    assert.equal(await other.delete(meta.id), true)
    assert.deepEqual(await keysIn(bucket), [])
    assert.equal(await sink.get(meta.id), undefined)
    assert.equal(await other.delete(meta.id), false)
    assert.equal((await sink.list({ limit: 10 })).items.length, 0)
    await assert.rejects(sink.delete('../etc/passwd'), { code: ErrorCodes.INVALID_ID })

    const { client, gate } = gatedClient(server)
    const blocked = sinkFor({ bucket, client, errors: [] })
    const waiting = metaFor('heap', new Date(), body)
    await blocked.put(waiting, body)
    assert.equal(await blocked.delete(waiting.id), true)
    assert.equal(blocked.status().spooled, 0)
    assert.deepEqual(await readdir(blocked.spoolDir), [])
    gate.blocked = false
    await flushed(blocked)
    assert.deepEqual(await keysIn(bucket), [], 'nothing was uploaded after the delete')
  })

  test('a presigned URL downloads the body with a plain GET', async () => {
    const bucket = await newBucket()
    const sink = sinkFor({ bucket, presign: { expiresInSec: 60 } })
    const body = randomBytes(300_000)
    const meta = metaFor('cpu', new Date(), body)
    await sink.put(meta, body)
    assert.equal(await sink.presignedUrl(meta.id), undefined, 'still spooled: stream it instead')
    await flushed(sink)
    const url = await sink.presignedUrl(meta.id)
    assert.ok(url !== undefined)
    assert.match(url, /X-Amz-Expires=60/)
    assert.ok(url.startsWith(server.endpoint))
    const response = await fetch(url)
    assert.equal(response.status, 200)
    assert.equal(sha256(Buffer.from(await response.arrayBuffer())), meta.sha256)
    assert.equal(await sink.presignedUrl(createCaptureId('cpu')), undefined, 'unknown capture')
  })

  test('the admin API redirects a download to the presigned URL, or streams it when presign is off', async () => {
    const bucket = await newBucket()
    const quiet = { debug() {}, info() {}, warn() {}, error() {} }
    const body = randomBytes(200_000)
    const meta = metaFor('cpu', new Date(), body, 'shop')
    const writer = sinkFor({ bucket })
    await writer.put(meta, body)
    await flushed(writer)
    for (const presign of [{ expiresInSec: 30 }, false] as const) {
      const tripwire = createTripwire({
        service: 'shop',
        sink: sinkFor({ bucket, presign }),
        admin: { insecureNoAuth: true },
        logger: quiet,
      })
      const handler = createAdminHandler(tripwire)
      const http = createServer((req, res) => {
        void handler(req, res).then((handled) => {
          if (!handled) res.writeHead(404).end()
        })
      })
      http.listen(0, '127.0.0.1')
      await once(http, 'listening')
      try {
        const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/_tripwire/captures/${meta.id}/profile`
        const first = await fetch(url, { redirect: 'manual' })
        if (presign === false) {
          assert.equal(first.status, 200)
          assert.equal(sha256(Buffer.from(await first.arrayBuffer())), meta.sha256)
        } else {
          assert.equal(first.status, 302)
          const location = first.headers.get('location') ?? ''
          assert.ok(location.startsWith(`${server.endpoint}/${bucket}/tripwire/shop/`), location)
          await first.body?.cancel()
          const followed = await fetch(location)
          assert.equal(followed.status, 200)
          assert.equal(sha256(Buffer.from(await followed.arrayBuffer())), meta.sha256)
        }
      } finally {
        http.close()
        await tripwire.close()
      }
    }
  })

  test('check() passes, and names wrong credentials and missing buckets with coded errors', async () => {
    const bucket = await newBucket()
    assert.deepEqual(await sinkFor({ bucket }).check({ write: true }), {
      bucket,
      prefix: 'tripwire/',
      writable: true,
    })
    assert.deepEqual(await keysIn(bucket), [], 'the write probe cleans up after itself')

    const wrongKey = new S3Sink({
      bucket,
      client: clientFor(server, 'AKIAWRONG'),
      spool: { dir: join(root, `spool-${counter++}`) },
    })
    const denied = await rejection(wrongKey.check())
    assert.equal(denied.code, ErrorCodes.SINK_PERMISSION)
    assert.match(denied.message, /credentials|denied/i)
    const deniedWrite = await rejection(wrongKey.check({ write: true }))
    assert.equal(deniedWrite.code, ErrorCodes.SINK_PERMISSION)

    const missing = await rejection(sinkFor({ bucket: 'no-such-bucket' }).check())
    assert.equal(missing.code, ErrorCodes.SINK_UNAVAILABLE)
    assert.match(missing.message, /no-such-bucket does not exist/)

    // and the same errors surface in status() when uploads hit them
    const errors: TripwireError[] = []
    const lost = sinkFor({ bucket: 'no-such-bucket', errors })
    await lost.put(metaFor('cpu', new Date(), Buffer.from('{}')), Buffer.from('{}'))
    await waitFor('the upload failed', () => lost.status().lastError !== undefined)
    assert.equal(lost.status().lastError?.code, ErrorCodes.SINK_UNAVAILABLE)
    assert.equal(errors[0]?.code, ErrorCodes.SINK_UNAVAILABLE)
  })

  test('retention keeps the newest maxCount younger than maxAgeMs, across instances', async () => {
    const bucket = await newBucket()
    const now = Date.now()
    const sink = sinkFor({ bucket, retention: { maxCount: 3, maxAgeMs: 30 * DAY } })
    const metas = [0, 1, 2, 3, 45].map((days) =>
      metaFor('cpu', new Date(now - days * DAY - 1000), Buffer.from('{}')),
    )
    const other = sinkFor({ bucket })
    for (const meta of metas.slice(0, 2)) await sink.put(meta, Buffer.from('{}'))
    for (const meta of metas.slice(2)) await other.put(meta, Buffer.from('{}'))
    await Promise.all([flushed(sink), flushed(other)])
    const report = await sink.applyRetention()
    assert.deepEqual(report, { examined: 5, deleted: 2, orphansDeleted: 0, complete: true })
    assert.deepEqual(
      (await other.list({ limit: 10 })).items.map((meta) => meta.id),
      metas.slice(0, 3).map((meta) => meta.id),
    )
    assert.equal((await keysIn(bucket)).length, 6)
  })
})

describe('S3Sink when the store is away', () => {
  let outage: S3Server
  before(async () => {
    outage = await startS3()
  })
  after(async () => {
    await outage.stop().catch(() => {})
  })

  test('put resolves once spooled; the upload waits for the store to come back, sha256 intact', async () => {
    const bucket = await newBucket(outage)
    const errors: TripwireError[] = []
    const sink = sinkFor({ bucket, target: outage, errors })
    await sink.start()
    const port = outage.port
    await outage.stop()

    const big = randomBytes(6 * 1024 * 1024)
    const small = Buffer.from('{"small":true}')
    const metas = [metaFor('heap', new Date(Date.now() - 1000), big), metaFor('cpu', new Date(), small)]
    const started = performance.now()
    await sink.put(metas[0]!, Readable.from([big.subarray(0, 3_000_000), big.subarray(3_000_000)]))
    await sink.put(metas[1]!, small)
    const elapsed = performance.now() - started
    assert.ok(elapsed < 2000, `put does not wait for the store (${Math.round(elapsed)} ms)`)
    assert.equal(sink.status().spooled, 2)
    assert.equal(sink.status().spooledBytes, big.length + small.length)
    for (const name of await readdir(sink.spoolDir)) {
      assert.equal((await stat(join(sink.spoolDir, name))).mode & 0o777, 0o600, `${name} is private`)
    }
    await waitFor('an upload has failed', () => sink.status().lastError !== undefined)
    assert.equal(sink.status().lastError?.code, ErrorCodes.SINK_UNAVAILABLE)
    assert.ok((await sink.list({ limit: 10 }).catch((error: TripwireError) => error)) instanceof Error)
    // served from the spool meanwhile
    assert.equal(sha256(await bodyOf(sink, metas[0]!.id)), metas[0]!.sha256)

    outage = await startS3(port)
    await newBucketNamed(outage, bucket)
    await waitFor('the spool drained', () => sink.status().spooled === 0)
    assert.equal(sink.status().uploaded, 2)
    assert.deepEqual(await readdir(sink.spoolDir), [])
    const reader = sinkFor({ bucket, target: outage })
    for (const meta of metas) assert.equal(sha256(await bodyOf(reader, meta.id)), meta.sha256)
    assert.deepEqual(
      errors.map((error) => error.code),
      [ErrorCodes.SINK_UNAVAILABLE],
      'one report for the outage',
    )
  })

  test('a full spool drops its oldest captures, counted and reported; put never fails', async () => {
    const bucket = await newBucket(outage)
    const { client } = gatedClient(outage)
    const errors: TripwireError[] = []
    const sink = sinkFor({
      bucket,
      client,
      errors,
      spool: { dir: join(root, `spool-${counter++}`), maxCount: 2 },
    })
    const now = Date.now()
    const metas = [4, 3, 2, 1].map((s) => metaFor('cpu', new Date(now - s * 1000), Buffer.from('{}')))
    for (const meta of metas) await sink.put(meta, Buffer.from('{}'))
    assert.equal(sink.status().dropped, 2)
    assert.equal(sink.status().spooled, 2)
    const dropped = errors.filter((error) => error.code === ErrorCodes.SINK_SPOOL_FULL)
    assert.equal(dropped.length, 2)
    assert.match(dropped[0]!.message, /holds at most 2 captures/)
    const spooledIds = (await sink.list({ limit: 10 }).catch(() => undefined))?.items.map((m) => m.id) ?? []
    // the newest is always kept; so is a capture the uploader is sending when the spool overflows (it may be
    // trying one of the older ones against the outage), otherwise the next newest
    assert.equal(spooledIds.length, 2)
    assert.equal(spooledIds[0], metas[3]!.id)
    assert.ok(
      metas.slice(0, 3).some((meta) => meta.id === spooledIds[1]),
      `kept ${spooledIds.join(', ')}`,
    )
  })

  test('close() gives up at its deadline, keeps the spool, and says what remains', async () => {
    const bucket = await newBucket(outage)
    const { client } = gatedClient(outage)
    const errors: TripwireError[] = []
    const sink = sinkFor({ bucket, client, errors })
    await sink.put(metaFor('cpu', new Date(), Buffer.from('{}')), Buffer.from('{}'))
    const started = performance.now()
    await sink.close(300)
    assert.ok(performance.now() - started < 2000)
    const remaining = errors.find((error) => /closed with 1 capture/.test(error.message))
    assert.ok(remaining, errors.map((error) => error.message).join('\n'))
    assert.equal(remaining.code, ErrorCodes.SINK_UNAVAILABLE)
    assert.equal((await readdir(sink.spoolDir)).length, 2, 'body and metadata stay for the next start')
  })
})

async function newBucketNamed(target: S3Server, bucket: string): Promise<void> {
  const client = clientFor(target)
  await client.send(new CreateBucketCommand({ Bucket: bucket }))
  client.destroy()
}
