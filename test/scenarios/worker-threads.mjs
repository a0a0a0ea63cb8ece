// Captures inside worker_threads. Two Workers each run their own Tripwire on one sink directory; each starts
// a CPU capture, and only once both are running (and the main thread has started one too) does any of the
// three do its work and stop. Each thread works in a function of its own, so that each profile shows whose
// isolate it covers. A second start inside a running Worker shows that the one-capture lock is per isolate.
// Prints one line from the main thread. argv: <sink dir>
import { once } from 'node:events'
import { isMainThread, parentPort, threadId, Worker, workerData } from 'node:worker_threads'
import { createTripwire, LocalDiskSink } from '@tripwire/core'
import { cpuProfileFacts, printResult, readAll, rejectionOf, tripwireScenarioBusyWork } from './lib.mjs'

const WORK_FUNCTIONS = ['mainThreadWork', 'firstWorkerWork', 'secondWorkerWork']
/** No thread waits longer than this for another; a stuck scenario fails instead of hanging. */
const WAIT_MS = 15_000

function mainThreadWork(ms) {
  return tripwireScenarioBusyWork(ms)
}
function firstWorkerWork(ms) {
  return tripwireScenarioBusyWork(ms)
}
function secondWorkerWork(ms) {
  return tripwireScenarioBusyWork(ms)
}

function tripwireFor(dir) {
  return createTripwire({
    service: 'worker-threads',
    sink: new LocalDiskSink({ dir }),
    limits: { cooldownMs: 0 },
  })
}

/** Stops the capture, reads its stored profile back and tells what it holds. */
async function stopAndDescribe(tw, handle) {
  const meta = await handle.stop()
  const stored = await tw.get(meta.id)
  const body = stored === undefined ? undefined : await readAll(stored.body)
  return {
    id: meta.id,
    status: meta.status,
    pid: meta.pid,
    labels: meta.labels,
    profile: body === undefined ? null : cpuProfileFacts(JSON.parse(body.toString('utf8')), WORK_FUNCTIONS),
  }
}

async function runWorker() {
  const { dir, index } = workerData
  const tw = tripwireFor(dir)
  const handle = await tw.start({ kind: 'cpu' })
  const second = await rejectionOf(tw.start({ kind: 'cpu' }))
  parentPort.postMessage({ type: 'started', threadId, id: handle.id, secondStart: second.code ?? 'started' })
  await once(parentPort, 'message', { signal: AbortSignal.timeout(WAIT_MS) })
  ;[firstWorkerWork, secondWorkerWork][index](150)
  const capture = await stopAndDescribe(tw, handle)
  await tw.close()
  parentPort.postMessage({ type: 'done', threadId, capture })
}

async function runMain() {
  const [dir] = process.argv.slice(2)
  const workers = [0, 1].map((index) => new Worker(new URL(import.meta.url), { workerData: { dir, index } }))
  // read now: a Worker that has exited reports -1
  const workerThreadIds = workers.map((worker) => worker.threadId)
  try {
    const nextMessage = (worker) => once(worker, 'message', { signal: AbortSignal.timeout(WAIT_MS) })
    const started = (await Promise.all(workers.map(nextMessage))).map(([message]) => message)
    const tw = tripwireFor(dir)
    const handle = await tw.start({ kind: 'cpu' })
    // all three captures are running now; the workers work in parallel with this thread
    const finished = Promise.all(workers.map(nextMessage))
    for (const worker of workers) worker.postMessage('go')
    mainThreadWork(150)
    const main = await stopAndDescribe(tw, handle)
    await tw.close()
    const done = (await finished).map(([message]) => message)
    printResult({
      pid: process.pid,
      workerThreadIds,
      started,
      main,
      workers: done,
    })
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()))
  }
}

await (isMainThread ? runMain() : runWorker())
