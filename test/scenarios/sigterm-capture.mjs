// A service with a long CPU capture running is sent SIGTERM. With `hook`, Tripwire's opt-in signal handler
// stores the capture and re-raises the signal; with `no-hook`, the process dies with nothing stored; with
// `hook-and-app`, the application has its own graceful SIGTERM handler, which must be left to end the process.
// argv: <sink dir> <hook|no-hook|hook-and-app>
import { createTripwire, LocalDiskSink } from '@tripwire/core'
import { printResult, startServer } from './lib.mjs'

const [dir, mode] = process.argv.slice(2)
const { port } = await startServer()
const tw = createTripwire({
  service: 'sigterm',
  sink: new LocalDiskSink({ dir }),
  ...(mode !== 'no-hook' && { shutdownSignals: ['SIGTERM'] }),
})
if (mode === 'hook-and-app') {
  // the application's own graceful shutdown: a once-listener that takes its time, then exits 0
  process.once('SIGTERM', () => setTimeout(() => process.exit(0), 300))
}
const handle = await tw.start({ kind: 'cpu', durationMs: 20_000 })

printResult({ ready: true, id: handle.id, port, sigtermListeners: process.listenerCount('SIGTERM') })
