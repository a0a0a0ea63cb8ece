// A service with a long CPU capture running is sent SIGTERM. With `hook`, Tripwire's opt-in signal handler
// stores the capture and re-raises the signal; with `no-hook`, the process dies with nothing stored.
// The script installs no SIGTERM handler of its own. argv: <sink dir> <hook|no-hook>
import { createTripwire, LocalDiskSink } from '@tripwire/core'
import { printResult, startServer } from './lib.mjs'

const [dir, mode] = process.argv.slice(2)
const { port } = await startServer()
const tw = createTripwire({
  service: 'sigterm',
  sink: new LocalDiskSink({ dir }),
  ...(mode === 'hook' && { shutdownSignals: ['SIGTERM'] }),
})
const handle = await tw.start({ kind: 'cpu', durationMs: 20_000 })

printResult({ ready: true, id: handle.id, port, sigtermListeners: process.listenerCount('SIGTERM') })
