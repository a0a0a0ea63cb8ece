/**
 * The labels a capture gets from where it runs: a node:cluster worker's id and a worker thread's id, so that
 * captures of one host's processes and threads can be told apart. The user's labels always win.
 */
import assert from 'node:assert/strict'
import cluster from 'node:cluster'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { describe, test } from 'node:test'
import { Worker } from 'node:worker_threads'
import { createCaptureId } from '../src/capture-id.js'
import { automaticLabels, runningCaptureMeta } from '../src/capture-meta.js'
import { normalizeCaptureRequest } from '../src/capture-request.js'
import { resolveConfig } from '../src/config.js'

const FIXTURE = fileURLToPath(new URL('./fixtures/labels-where-started.mjs', import.meta.url))
/** A fixture that has not reported by then has failed. */
const FIXTURE_TIMEOUT_MS = 15_000

interface Report {
  threadId: number
  clusterWorkerId: number | null
  plain: Record<string, string>
  configured: Record<string, string>
  requested: Record<string, string>
}

function labelsHere(configLabels?: Record<string, string>, requestLabels?: Record<string, string>) {
  const config = resolveConfig({ service: 'checkout', ...(configLabels && { labels: configLabels }) })
  const request = normalizeCaptureRequest(
    { kind: 'cpu', durationMs: 100, ...(requestLabels && { labels: requestLabels }) },
    config,
  )
  return runningCaptureMeta(createCaptureId('cpu'), new Date(), request, config).labels
}

/** Resolves with the first message, or rejects when the timeout passes first. */
async function firstMessage<T>(emitter: NodeJS.EventEmitter, stop: () => void): Promise<T> {
  const timeout = AbortSignal.timeout(FIXTURE_TIMEOUT_MS)
  try {
    const [message] = (await once(emitter, 'message', { signal: timeout })) as [T]
    return message
  } finally {
    stop()
  }
}

describe('automaticLabels', () => {
  test('names the cluster worker and the thread, and nothing for a plain main thread', () => {
    assert.deepEqual(automaticLabels({ clusterWorkerId: undefined, threadId: undefined }), {})
    assert.deepEqual(automaticLabels({ clusterWorkerId: 3, threadId: undefined }), { clusterWorker: '3' })
    assert.deepEqual(automaticLabels({ clusterWorkerId: undefined, threadId: 2 }), { thread: '2' })
    assert.deepEqual(automaticLabels({ clusterWorkerId: 1, threadId: 4 }), {
      clusterWorker: '1',
      thread: '4',
    })
  })

  test('the main thread of a plain process adds no label: its metadata is what the user gave', () => {
    assert.deepEqual(labelsHere(), {})
    assert.deepEqual(labelsHere({ region: 'eu' }, { ticket: 'OPS-1' }), { region: 'eu', ticket: 'OPS-1' })
  })
})

describe('runningCaptureMeta where a capture starts', () => {
  test('in a worker thread: labelled with its threadId; configured and requested labels win', async () => {
    const worker = new Worker(FIXTURE)
    const report = await firstMessage<Report>(worker, () => void worker.terminate())
    assert.equal(report.clusterWorkerId, null)
    assert.equal(report.threadId, worker.threadId)
    assert.deepEqual(report.plain, { thread: String(worker.threadId) })
    assert.deepEqual(report.configured, { thread: 'pool-a', clusterWorker: 'web-a', region: 'eu' })
    assert.deepEqual(report.requested, { thread: 'job-7', clusterWorker: 'job-host' })
  })

  test('in a cluster worker: labelled with cluster.worker.id; configured and requested labels win', async () => {
    // the fixture loads the sources' loader itself; the parent's --import would load it twice
    cluster.setupPrimary({ exec: FIXTURE, execArgv: [], silent: true })
    const worker = cluster.fork()
    const report = await firstMessage<Report>(worker, () => worker.process.kill('SIGKILL'))
    assert.equal(report.clusterWorkerId, worker.id)
    assert.equal(report.threadId, 0)
    assert.deepEqual(report.plain, { clusterWorker: String(worker.id) })
    assert.deepEqual(report.configured, { thread: 'pool-a', clusterWorker: 'web-a', region: 'eu' })
    assert.deepEqual(report.requested, { thread: 'job-7', clusterWorker: 'job-host' })
  })
})
