// Two installed copies of @tripwire/core in one process must share the one capture lock.
// argv: <copyA dist/index.js file URL> <copyB dist/index.js file URL> <sink dir A> <sink dir B>
import { MemoryLogger, printResult, rejectionOf } from './lib.mjs'

const [urlA, urlB, dirA, dirB] = process.argv.slice(2)
const A = await import(urlA)
const B = await import(urlB)

const options = (core, dir) => ({
  service: 'two-copies',
  sink: new core.LocalDiskSink({ dir }),
  limits: { cooldownMs: 0 },
  logger: new MemoryLogger(),
})
const twA = A.createTripwire(options(A, dirA))
const twB = B.createTripwire(options(B, dirB))

const handleA = await twA.start({ kind: 'cpu', durationMs: 2000 })
const busy = await rejectionOf(twB.start({ kind: 'cpu', durationMs: 2000 }))
const statusBWhileBusy = twB.status()
if (!busy.rejected) await busy.value.stop() // the lock failed: report it rather than crash on the next start
const metaA = await handleA.stop()
const handleB = await twB.start({ kind: 'cpu', durationMs: 2000 })
const metaB = await handleB.stop()
await Promise.all([twA.close(), twB.close()])

printResult({
  distinct: {
    controller: A.TripwireController !== B.TripwireController,
    errorClass: A.TripwireError !== B.TripwireError,
    sinkClass: A.LocalDiskSink !== B.LocalDiskSink,
  },
  busy: {
    rejected: busy.rejected,
    code: busy.code,
    message: busy.message,
    retryAfterMs: busy.error?.retryAfterMs ?? null,
    recognisedByA: A.isTripwireError(busy.error),
    recognisedByB: B.isTripwireError(busy.error),
    instanceOfA: busy.error instanceof A.TripwireError,
    instanceOfB: busy.error instanceof B.TripwireError,
  },
  refusedBusyB: statusBWhileBusy.counters.refused.busy,
  a: { id: handleA.id, status: metaA.status },
  b: { id: handleB.id, status: metaB.status },
})
