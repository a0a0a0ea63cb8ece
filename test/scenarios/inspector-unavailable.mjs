// Under the permission model (without --allow-inspector) every capture is refused with a clear code and the
// service keeps serving. argv: <sink dir>
import { createTripwire, LocalDiskSink } from '@tripwire/core'
import { MemoryLogger, printResult, rejectionOf, startServer } from './lib.mjs'

const [dir] = process.argv.slice(2)
const { server, port } = await startServer()
const logger = new MemoryLogger()
const tw = createTripwire({ service: 'no-inspector', sink: new LocalDiskSink({ dir }), logger })

const cpu = await rejectionOf(tw.start({ kind: 'cpu', durationMs: 100 }))
const heap = await rejectionOf(tw.start({ kind: 'heap', durationMs: 100 }))
const status = tw.status()
const response = await fetch(`http://127.0.0.1:${port}/?work=5`)
const body = await response.text()
await tw.close()
server.close()

const summary = ({ rejected, code, message }) => ({ rejected, code, message })
printResult({
  permissionModel: typeof process.permission?.has === 'function' && !process.permission.has('inspector'),
  cpu: summary(cpu),
  heap: summary(heap),
  inspector: status.inspector,
  current: status.current ?? null,
  refused: status.counters.refused,
  warnings: logger.lines.filter((line) => line.level === 'warn').length,
  http: { status: response.status, body },
})
