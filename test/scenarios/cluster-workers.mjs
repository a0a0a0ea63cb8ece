// A node:cluster service: the primary forks two workers, each an Express 5 app with @tripwire/express on one
// shared sink directory, each on a loopback port of its own (so that the test can reach a chosen worker).
// The primary prints {primaryPid, workers: [{id, pid, port}]} once both listen, and on SIGTERM stops the
// workers and exits. argv: <sink dir> <service> <hmac kid> <hmac secret>
import cluster from 'node:cluster'
import { LocalDiskSink } from '@tripwire/core'
import { tripwire } from '@tripwire/express'
import express from 'express'
import { printResult, tripwireScenarioBusyWork } from './lib.mjs'

const WORKERS = 2
/** The primary gives up (and exits non-zero) when the workers are not listening by then. */
const READY_MS = 15_000
const [dir, service, kid, secret] = process.argv.slice(2)

if (cluster.isPrimary) {
  const workers = Array.from({ length: WORKERS }, () => cluster.fork())
  const giveUp = setTimeout(() => {
    for (const worker of workers) worker.process.kill('SIGKILL')
    process.exit(1)
  }, READY_MS)
  const ready = await Promise.all(
    workers.map(
      (worker) =>
        new Promise((resolve) => worker.once('message', (message) => resolve({ id: worker.id, ...message }))),
    ),
  )
  clearTimeout(giveUp)
  let exited = 0
  cluster.on('exit', () => {
    if (++exited === WORKERS) process.exit(0)
  })
  process.once('SIGTERM', () => {
    for (const worker of workers) worker.process.kill('SIGTERM')
  })
  printResult({ primaryPid: process.pid, workers: ready })
} else {
  const app = express()
  app.use(
    tripwire({
      service,
      keys: [{ kid, secret }],
      sink: new LocalDiskSink({ dir }),
      limits: { cooldownMs: 0, capturesPerHour: 100 },
    }),
  )
  app.get('/work/:ms', (req, res) => {
    tripwireScenarioBusyWork(Math.min(Number(req.params.ms) || 0, 200))
    res.type('text/plain').send('ok')
  })
  // exclusive: a port of this worker's own, rather than the primary's shared, round-robin one
  const server = app.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () =>
    process.send({ pid: process.pid, port: server.address().port }),
  )
}
