// close() during a long capture stores it as aborted, refuses later starts, and leaves nothing that keeps
// the process alive. argv: <sink dir>
import { createTripwire, LocalDiskSink } from '@tripwire/core'
import { printResult, rejectionOf, tripwireScenarioBusyWork } from './lib.mjs'

const [dir] = process.argv.slice(2)
const tw = createTripwire({ service: 'close-mid-capture', sink: new LocalDiskSink({ dir }) })
const handle = await tw.start({ kind: 'cpu', durationMs: 20_000 })

// ~300 ms of work, in slices so that the event loop turns as a service's would
for (let i = 0; i < 10; i++) {
  tripwireScenarioBusyWork(30)
  await new Promise((resolve) => setImmediate(resolve))
}

const closeStarted = performance.now()
await tw.close()
const closeMs = Math.round(performance.now() - closeStarted)
const done = await handle.done
const later = await rejectionOf(tw.start({ kind: 'cpu', durationMs: 100 }))
const status = tw.status()

// printed last; the test then expects the process to exit by itself, with code 0
printResult({
  id: handle.id,
  closeMs,
  done: { status: done.status, durationMs: done.durationMs },
  later: { rejected: later.rejected, code: later.code },
  current: status.current ?? null,
  storing: status.storing,
  counters: { started: status.counters.started, aborted: status.counters.aborted },
})
