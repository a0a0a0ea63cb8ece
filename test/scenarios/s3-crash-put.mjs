// Puts captures into an S3Sink whose store is down, then dies by SIGKILL with them in the spool (and a third
// put half written). Run by test/s3-sink-process.test.ts against the BUILT package:
//   node s3-crash-put.mjs <endpoint> <bucket> <spoolDir>
import { createHash, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { CAPTURE_KINDS, captureFileName, createCaptureId } from '@tripwire/core'
import { S3Sink } from '@tripwire/core/s3'
import { printResult, localS3ClientConfig } from './lib.mjs'

const [endpoint, bucket, spoolDir] = process.argv.slice(2)

const sink = new S3Sink({
  bucket,
  clientConfig: localS3ClientConfig(endpoint),
  spool: { dir: spoolDir },
  retry: { baseMs: 50, maxMs: 200 },
  onError: () => {},
})

function metaFor(kind, at, body) {
  const id = createCaptureId(kind, at)
  return {
    id,
    kind,
    status: 'completed',
    trigger: { type: 'api', reason: 'crash scenario' },
    requested: { durationMs: 1000, mode: 'window' },
    startedAt: at.toISOString(),
    endedAt: at.toISOString(),
    durationMs: 1000,
    bytes: body.length,
    sha256: createHash('sha256').update(body).digest('hex'),
    contentType: CAPTURE_KINDS[kind].contentType,
    fileName: captureFileName(id, kind),
    host: 'crashed-host',
    pid: process.pid,
    service: 'crashy',
    version: '1.0.0',
    runtime: { node: process.version, v8: process.versions.v8 },
    labels: {},
  }
}

const heap = randomBytes(7 * 1024 * 1024)
const cpu = Buffer.from(JSON.stringify({ nodes: [], startTime: 0, endTime: 1, samples: [], timeDeltas: [] }))
const captures = [
  { meta: metaFor('heap', new Date(Date.now() - 2000), heap), body: Readable.from([heap]) },
  { meta: metaFor('cpu', new Date(Date.now() - 1000), cpu), body: cpu },
]
const started = performance.now()
for (const { meta, body } of captures) await sink.put(meta, body)
const putMs = performance.now() - started

// a third put that never finishes: its temp file must not be mistaken for a capture at the next start
const endless = new Readable({ read() {} })
endless.push(Buffer.alloc(64 * 1024))
void sink.put(metaFor('cpu', new Date(), Buffer.alloc(0)), endless).catch(() => {})
await new Promise((resolve) => setTimeout(resolve, 100))

printResult({
  putMs,
  status: sink.status(),
  captures: captures.map(({ meta }) => ({ id: meta.id, sha256: meta.sha256, bytes: meta.bytes })),
})
process.kill(process.pid, 'SIGKILL')
