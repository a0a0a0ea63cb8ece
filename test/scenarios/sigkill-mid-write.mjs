// A capture is on its way into a LocalDiskSink when the process dies by SIGKILL. The sink's file system is the
// real one, except that at one point of the second capture's put it stops for good, and the parent kills the
// process there:
//   body    the body's temp file is half written (the metadata's, written alongside, goes on)
//   meta    the metadata's temp file is half written (the body's, written alongside, goes on)
//   rename  the body has its final name, the metadata is still a temp file
// The first capture is stored whole. Prints one line once the second put is stuck.
// argv: <sink dir> <body|meta|rename>
import * as fs from 'node:fs/promises'
import { basename } from 'node:path'
import { createTripwire, LocalDiskSink } from '@tripwire/core'
import { printResult, tripwireScenarioBusyWork } from './lib.mjs'

const [dir, stage] = process.argv.slice(2)
if (!['body', 'meta', 'rename'].includes(stage)) throw new Error(`unknown stage ${stage}`)

let armed = false
let reportStuck
const stuck = new Promise((resolve) => (reportStuck = resolve))

/** Never settles; the interval keeps the process alive until the parent kills it (or the runner does). */
function hangForever(where) {
  reportStuck(where)
  setInterval(() => {}, 1000)
  return new Promise(() => {})
}

/** A file handle that writes the first half of the first write, makes it durable, then hangs. */
function halfWritingHandle(handle, path) {
  return {
    write: async (buffer, offset, length) => {
      const half = Math.max(1, Math.floor(length / 2))
      await handle.write(buffer, offset, half)
      await handle.sync()
      return hangForever({ file: basename(path), bytesWritten: half, of: length })
    },
    sync: () => handle.sync(),
    close: () => handle.close(),
    createReadStream: () => handle.createReadStream(),
  }
}

const stallingFs = {
  ...fs,
  async open(path, flags, mode) {
    const handle = await fs.open(path, flags, mode)
    const target = stage === 'body' ? '.body' : stage === 'meta' ? '.meta' : undefined
    if (armed && flags === 'wx' && target !== undefined && path.endsWith(target)) {
      return halfWritingHandle(handle, path)
    }
    return handle
  },
  async rename(from, to) {
    if (armed && stage === 'rename' && from.endsWith('.meta')) return hangForever({ file: basename(from) })
    return fs.rename(from, to)
  },
}

const tw = createTripwire({
  service: 'sigkill-mid-write',
  sink: new LocalDiskSink({ dir, fs: stallingFs }),
  limits: { cooldownMs: 0 },
})

async function captureWithWork() {
  const handle = await tw.start({ kind: 'cpu', durationMs: 150 })
  for (let i = 0; i < 5; i++) {
    tripwireScenarioBusyWork(20)
    await new Promise((resolve) => setImmediate(resolve))
  }
  return handle
}

const complete = await (await captureWithWork()).done
armed = true
const interrupted = await captureWithWork()
const where = await stuck

printResult({
  pid: process.pid,
  complete: { id: complete.id, status: complete.status },
  interrupted: { id: interrupted.id, fileName: interrupted.meta.fileName },
  stage,
  where,
})
