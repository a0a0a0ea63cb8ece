// The next start of a process on a sink directory that a killed process left behind: what a LocalDiskSink
// shows and what its start-up cleanup removes. argv: <sink dir> <id of the capture that was being written>
import { readdir } from 'node:fs/promises'
import { LocalDiskSink } from '@tripwire/core'
import { printResult } from './lib.mjs'

const [dir, interruptedId] = process.argv.slice(2)
const before = (await readdir(dir)).sort()
const sink = new LocalDiskSink({ dir })
// the first call runs the start-up cleanup before it answers
const listed = (await sink.list({ limit: 100 })).items.map(({ id, status }) => ({ id, status }))
const stored = await sink.get(interruptedId)
stored?.body.destroy()
const meta = await sink.getMeta(interruptedId)
await sink.close()

printResult({
  pid: process.pid,
  before,
  listed,
  interruptedVisible: { get: stored !== undefined, getMeta: meta !== undefined },
  after: (await readdir(dir)).sort(),
})
