// An Express 5 service with @tripwire/express whose LocalDiskSink sits on a disk that can be made to fail.
// The file system is the real one until the parent picks a fault (a route of this app, standing in for an
// operator's disk filling up or a volume turning read-only):
//   none         the real file system
//   full         no space left: every write of a byte fails with ENOSPC
//   nearly-full  4 KiB left: a write gets what is left (a short write), then ENOSPC; a deleted file frees its bytes
//   denied       the directory refuses new files: opening a temp file fails with EACCES
// Routes: GET /work/:ms (burns CPU, answers "ok"), PUT /test/fault/:mode, GET /test/logs (what Tripwire logged).
// Prints {port} once listening. argv: <sink dir> <service> <hmac kid> <hmac secret>
import * as fs from 'node:fs/promises'
import { LocalDiskSink } from '@tripwire/core'
import { tripwire } from '@tripwire/express'
import express from 'express'
import { MemoryLogger, printResult, tripwireScenarioBusyWork } from './lib.mjs'

const [dir, service, kid, secret] = process.argv.slice(2)
const FAULTS = ['none', 'full', 'nearly-full', 'denied']
const NEARLY_FULL_BYTES = 4096

const disk = { fault: 'none', freeBytes: Infinity }
/** Bytes each file written under a fault holds, so that deleting it gives them back. */
const usedBytes = new Map()

function errnoError(code, syscall, path) {
  const text = code === 'ENOSPC' ? 'no space left on device' : 'permission denied'
  return Object.assign(new Error(`${code}: ${text}, ${syscall} '${path}'`), { code, syscall, path })
}

/** A handle whose writes draw on `disk.freeBytes`, as a file system near its quota does. */
function quotaHandle(handle, path) {
  return {
    write: async (buffer, offset, length) => {
      const fits = Math.min(length, disk.freeBytes)
      if (fits <= 0) throw errnoError('ENOSPC', 'write', path)
      disk.freeBytes -= fits
      usedBytes.set(path, (usedBytes.get(path) ?? 0) + fits)
      return handle.write(buffer, offset, fits)
    },
    sync: () => handle.sync(),
    close: () => handle.close(),
    createReadStream: () => handle.createReadStream(),
  }
}

const faultyFs = {
  ...fs,
  async open(path, flags, mode) {
    if (flags === 'wx' && disk.fault === 'denied') throw errnoError('EACCES', 'open', path)
    const handle = await fs.open(path, flags, mode)
    const quota = disk.fault === 'full' || disk.fault === 'nearly-full'
    return flags === 'wx' && quota ? quotaHandle(handle, path) : handle
  },
  async rename(from, to) {
    await fs.rename(from, to)
    if (usedBytes.has(from)) {
      usedBytes.set(to, usedBytes.get(from))
      usedBytes.delete(from)
    }
  },
  async unlink(path) {
    await fs.unlink(path)
    disk.freeBytes += usedBytes.get(path) ?? 0
    usedBytes.delete(path)
  },
}

const logger = new MemoryLogger()
const app = express()
app.use(
  tripwire({
    service,
    keys: [{ kid, secret }],
    sink: new LocalDiskSink({ dir, fs: faultyFs }),
    limits: { cooldownMs: 0, capturesPerHour: 100 },
    logger,
  }),
)
app.get('/work/:ms', (req, res) => {
  tripwireScenarioBusyWork(Math.min(Number(req.params.ms) || 0, 200))
  res.type('text/plain').send('ok')
})
app.put('/test/fault/:mode', (req, res) => {
  const { mode } = req.params
  if (!FAULTS.includes(mode)) return void res.status(400).send(`unknown fault ${mode}`)
  disk.fault = mode
  disk.freeBytes = mode === 'full' ? 0 : mode === 'nearly-full' ? NEARLY_FULL_BYTES : Infinity
  res.json({ fault: mode })
})
app.get('/test/logs', (_req, res) => {
  // fields are plain data here (codes, ids, messages); anything else is shown as text
  res.json(logger.lines.map(({ level, message, fields }) => ({ level, message, fields: plain(fields) })))
})

function plain(fields) {
  try {
    return JSON.parse(JSON.stringify(fields ?? {}))
  } catch {
    return { unserialisable: String(fields) }
  }
}

const server = app.listen(0, '127.0.0.1', () => printResult({ port: server.address().port }))
