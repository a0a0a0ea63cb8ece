// A service on an S3Sink whose store goes away and comes back. Reports in three lines:
//   up      one capture taken and uploaded while the store answers
//   outage  after the parent has taken the store away and sent SIGUSR2: <count> captures back to back
//   back    after the parent has brought the store back: the spool drained, the controller closed
// argv: <endpoint> <bucket> <spool dir> <count>
import { readdir } from 'node:fs/promises'
import { createTripwire } from '@tripwire/core'
import { S3Sink } from '@tripwire/core/s3'
import {
  MemoryLogger,
  printResult,
  tripwireScenarioBusyWork,
  waitUntil,
  localS3ClientConfig,
} from './lib.mjs'

const [endpoint, bucket, spoolDir, countText] = process.argv.slice(2)
const count = Number(countText)
/** How long the parent may take to cut or restore the store before this process gives up. */
const PARENT_MS = 15_000

const sinkErrors = []
const sink = new S3Sink({
  bucket,
  clientConfig: localS3ClientConfig(endpoint),
  spool: { dir: spoolDir },
  retry: { baseMs: 50, maxMs: 250 },
  onError: (error) => sinkErrors.push({ code: error.code, message: error.message }),
})
const tw = createTripwire({
  service: 's3-outage-burst',
  sink,
  limits: { cooldownMs: 0, capturesPerHour: 100 },
  logger: new MemoryLogger(),
})
await sink.start()

async function capture(labels) {
  const handle = await tw.start({ kind: 'cpu', durationMs: 100, labels })
  for (let i = 0; i < 4; i++) {
    tripwireScenarioBusyWork(15)
    await new Promise((resolve) => setImmediate(resolve))
  }
  return handle.done
}

const spoolFiles = async () => (await readdir(spoolDir)).sort()

const warm = await capture({ phase: 'up' })
await waitUntil('the first capture is uploaded', () => sink.status().uploaded === 1)
// listening before the line is printed: the parent may signal as soon as it reads it
const outageBegun = new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('no SIGUSR2 from the parent')), PARENT_MS)
  process.once('SIGUSR2', () => {
    clearTimeout(timer)
    resolve()
  })
})
printResult({ phase: 'up', warm, status: sink.status() })

await outageBegun
const burst = []
for (let i = 0; i < count; i++) burst.push(await capture({ phase: 'outage', n: String(i) }))
printResult({ phase: 'outage', burst, status: sink.status(), spool: await spoolFiles() })

await waitUntil('the spool is uploaded', () => sink.status().spooled === 0, PARENT_MS)
await tw.close()
printResult({
  phase: 'back',
  status: sink.status(),
  counters: tw.status().counters,
  sinkErrors,
  spool: await spoolFiles(),
})
