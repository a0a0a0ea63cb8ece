// The server of test/soak.test.ts, in a process of its own so that the RSS and file descriptors it reports
// are its own, not the load generator's. An Express app with Tripwire (local-disk sink, no cooldown, a budget
// that never runs out). It prints {"port":…} once listening, then one JSON sample a second: RSS, heap used,
// open file descriptors (null where /proc is missing), requests served, and the unhandled rejections and
// uncaught exceptions it has seen, which it counts instead of dying of, so that the test can report them.
// It exits when its stdin closes: a test runner that dies never leaves it running.
// argv: <sink dir> <service> <kid> <hmac secret>
import { readdir } from 'node:fs/promises'
import { once } from 'node:events'
import { createServer } from 'node:http'
import express from 'express'
import { LocalDiskSink } from '@tripwire/core'
import { tripwire } from '@tripwire/express'

const SAMPLE_EVERY_MS = 1000
const [dir, service, kid, secret] = process.argv.slice(2)

let unhandledRejections = 0
let uncaughtExceptions = 0
process.on('unhandledRejection', (reason) => {
  unhandledRejections++
  process.stderr.write(`unhandledRejection: ${reason?.stack ?? String(reason)}\n`)
})
process.on('uncaughtException', (error) => {
  uncaughtExceptions++
  process.stderr.write(`uncaughtException: ${error?.stack ?? String(error)}\n`)
})

const middleware = tripwire({
  service,
  keys: [{ kid, secret }],
  sink: new LocalDiskSink({ dir }),
  limits: { cooldownMs: 0, capturesPerHour: 3600 },
})

let served = 0
const app = express()
app.use(middleware)
app.get('/items/:id', (req, res) => {
  served++
  res.json({ id: req.params.id, name: `item ${req.params.id}`, tags: ['soak', 'tripwire'] })
})

const server = createServer(app)
server.listen(0, '127.0.0.1')
await once(server, 'listening')
process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`)

async function openFileDescriptors() {
  try {
    return (await readdir('/proc/self/fd')).length
  } catch {
    return null
  }
}

setInterval(async () => {
  const { rss, heapUsed } = process.memoryUsage()
  const fds = await openFileDescriptors()
  const sample = { rss, heapUsed, fds, served, unhandledRejections, uncaughtExceptions }
  process.stdout.write(`${JSON.stringify(sample)}\n`)
}, SAMPLE_EVERY_MS)

process.stdin.resume()
process.stdin.on('end', () => process.exit(0))
