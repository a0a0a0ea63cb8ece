import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import * as nodeFs from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { createCaptureId } from '../src/capture-id.js'
import { CAPTURE_KINDS, captureFileName } from '../src/capture-kinds.js'
import { ErrorCodes, type TripwireError } from '../src/errors.js'
import { LocalDiskSink, type LocalDiskFileHandle, type LocalDiskFileSystem } from '../src/sinks/local-disk.js'
import type { CaptureKind, CaptureMeta } from '../src/types.js'

const MINUTE = 60_000
const DAY = 24 * 60 * MINUTE

let root: string
let dir: string

beforeEach(async () => {
  root = await nodeFs.mkdtemp(join(tmpdir(), 'tripwire-local-disk-'))
  dir = join(root, 'profiles')
})

afterEach(async () => {
  await nodeFs.rm(root, { recursive: true, force: true })
})

/** Captures `minutesAgo` minutes in the past, so that tests know their order. */
function makeMeta(kind: CaptureKind, minutesAgo: number, bytes = 0): CaptureMeta {
  const id = createCaptureId(kind, new Date(Date.now() - minutesAgo * MINUTE))
  return {
    id,
    kind,
    status: 'completed',
    trigger: { type: 'admin', subject: 'ops@example.com', reason: 'p99 regression on /checkout' },
    requested: { durationMs: 10_000, mode: 'window', samplingIntervalUs: 1000 },
    startedAt: new Date(Date.now() - minutesAgo * MINUTE).toISOString(),
    endedAt: new Date(Date.now() - minutesAgo * MINUTE + 10_000).toISOString(),
    durationMs: 10_000,
    bytes,
    sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    contentType: CAPTURE_KINDS[kind].contentType,
    fileName: captureFileName(id, kind),
    host: 'web-1',
    pid: 4242,
    service: 'checkout',
    version: '1.4.2',
    runtime: { node: process.versions.node, v8: process.versions.v8 },
    labels: { region: 'eu-west-1' },
    sampling: { samples: 9876, effectiveIntervalUs: 1012.5 },
  }
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

async function namesIn(path: string): Promise<string[]> {
  return (await nodeFs.readdir(path)).sort()
}

async function putAll(sink: LocalDiskSink, metas: CaptureMeta[], body = Buffer.from('{}')): Promise<void> {
  for (const meta of metas) await sink.put(meta, body)
}

function errnoError(code: string, syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated failure, ${syscall}`), { code, syscall })
}

/** The real file system, with `open` for temp files (mode `wx`) replaced. */
function fsWithTempOpen(open: (path: string) => Promise<LocalDiskFileHandle>): LocalDiskFileSystem {
  return {
    ...nodeFs,
    open: (path, flags, mode) => (flags === 'wx' ? open(path) : nodeFs.open(path, flags, mode)),
  }
}

/** Resolves once `dir` holds a file whose name starts with `prefix`. */
async function fileAppears(prefix: string): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const names = await nodeFs.readdir(dir).catch(() => [])
    if (names.some((name) => name.startsWith(prefix))) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error(`no ${prefix}* file appeared in ${dir}`)
}

function isCode(code: string) {
  return (error: TripwireError): boolean => {
    assert.equal(error.name, 'TripwireError')
    assert.equal(error.code, code)
    return true
  }
}

describe('LocalDiskSink', () => {
  describe('put and get', () => {
    it('round-trips a Buffer body and its metadata, with private file and directory modes', async () => {
      const sink = new LocalDiskSink({ dir })
      const body = randomBytes(4096)
      const meta = makeMeta('cpu', 1, body.length)
      await sink.put(meta, body)

      const stored = await sink.get(meta.id)
      assert.ok(stored)
      assert.deepEqual(stored.meta, meta)
      assert.deepEqual(await readAll(stored.body), body)

      assert.deepEqual(await namesIn(dir), [`${meta.id}.cpuprofile`, `${meta.id}.json`])
      assert.equal((await nodeFs.stat(dir)).mode & 0o777, 0o700)
      for (const name of await namesIn(dir)) {
        assert.equal((await nodeFs.stat(join(dir, name))).mode & 0o777, 0o600, name)
      }
    })

    it('round-trips a multi-chunk Readable body byte for byte', async () => {
      const sink = new LocalDiskSink({ dir })
      const chunks = Array.from({ length: 40 }, () => randomBytes(64 * 1024))
      const meta = makeMeta('heapsnapshot', 1, 40 * 64 * 1024)
      await sink.put(meta, Readable.from(chunks))

      const stored = await sink.get(meta.id)
      assert.ok(stored)
      assert.deepEqual(await readAll(stored.body), Buffer.concat(chunks))
      assert.deepEqual(await namesIn(dir), [`${meta.id}.heapsnapshot`, `${meta.id}.json`])
    })

    it('stores string chunks of an encoded stream as UTF-8', async () => {
      const sink = new LocalDiskSink({ dir })
      const meta = makeMeta('heap', 1)
      await sink.put(meta, Readable.from(['{"head":', '"ü"}'], { objectMode: false }))
      const stored = await sink.get(meta.id)
      assert.ok(stored)
      assert.equal((await readAll(stored.body)).toString('utf8'), '{"head":"ü"}')
    })

    it('answers undefined for a well-formed id that was never stored', async () => {
      const sink = new LocalDiskSink({ dir })
      assert.equal(await sink.get(createCaptureId('cpu')), undefined)
    })

    it('stores two concurrent puts of the same second', async () => {
      const sink = new LocalDiskSink({ dir })
      const at = new Date()
      const metas = [0, 1].map(() => ({ ...makeMeta('cpu', 0), id: createCaptureId('cpu', at) }))
      await Promise.all(metas.map((meta, i) => sink.put(meta, Readable.from([Buffer.from(`body ${i}`)]))))

      const page = await sink.list({ limit: 10 })
      assert.deepEqual(page.items.map((m) => m.id).sort(), metas.map((m) => m.id).sort())
      for (const [i, meta] of metas.entries()) {
        const stored = await sink.get(meta.id)
        assert.ok(stored)
        assert.equal((await readAll(stored.body)).toString(), `body ${i}`)
      }
      assert.equal((await namesIn(dir)).filter((n) => n.startsWith('.tmp-')).length, 0)
    })
  })

  describe('list', () => {
    it('lists newest first', async () => {
      const sink = new LocalDiskSink({ dir })
      const old = makeMeta('cpu', 30)
      const mid = makeMeta('heap', 20)
      const recent = makeMeta('cpu', 10)
      await putAll(sink, [mid, recent, old])
      const page = await sink.list({ limit: 10 })
      assert.deepEqual(
        page.items.map((m) => m.id),
        [recent.id, mid.id, old.id],
      )
      assert.equal(page.nextCursor, undefined)
    })

    it('pages through 5 captures 2 at a time without duplicates or gaps', async () => {
      const sink = new LocalDiskSink({ dir })
      const metas = [50, 40, 30, 20, 10].map((ago) => makeMeta('cpu', ago))
      await putAll(sink, metas)

      const pages: string[][] = []
      let cursor: string | undefined
      do {
        const page = await sink.list(cursor === undefined ? { limit: 2 } : { limit: 2, cursor })
        pages.push(page.items.map((m) => m.id))
        cursor = page.nextCursor
      } while (cursor !== undefined)

      assert.deepEqual(
        pages.map((p) => p.length),
        [2, 2, 1],
      )
      assert.deepEqual(pages.flat(), metas.map((m) => m.id).reverse())
    })

    it('filters by kind', async () => {
      const sink = new LocalDiskSink({ dir })
      const metas = [
        makeMeta('cpu', 40),
        makeMeta('heap', 30),
        makeMeta('cpu', 20),
        makeMeta('heapsnapshot', 10),
      ]
      await putAll(sink, metas)
      const heap = await sink.list({ limit: 10, kind: 'heap' })
      assert.deepEqual(
        heap.items.map((m) => m.id),
        [metas[1]!.id],
      )
      const cpu = await sink.list({ limit: 1, kind: 'cpu' })
      assert.deepEqual(
        cpu.items.map((m) => m.id),
        [metas[2]!.id],
      )
      assert.equal(cpu.nextCursor, metas[2]!.id)
      const cpuRest = await sink.list({ limit: 1, kind: 'cpu', cursor: metas[2]!.id })
      assert.deepEqual(
        cpuRest.items.map((m) => m.id),
        [metas[0]!.id],
      )
      assert.equal(cpuRest.nextCursor, undefined)
    })

    it('rejects an invalid cursor or kind and clamps the limit', async () => {
      const sink = new LocalDiskSink({ dir })
      await putAll(sink, [makeMeta('cpu', 3), makeMeta('cpu', 2), makeMeta('cpu', 1)])
      await assert.rejects(sink.list({ limit: 2, cursor: '../etc/passwd' }), isCode(ErrorCodes.INVALID_ID))
      await assert.rejects(sink.list({ limit: 2, cursor: '' }), isCode(ErrorCodes.INVALID_ID))
      await assert.rejects(
        sink.list({ limit: 2, kind: 'flame' as CaptureKind }),
        isCode(ErrorCodes.INVALID_REQUEST),
      )
      await assert.rejects(sink.list({ limit: Number.NaN }), isCode(ErrorCodes.INVALID_REQUEST))
      assert.equal((await sink.list({ limit: 0 })).items.length, 1)
      assert.equal((await sink.list({ limit: -5 })).items.length, 1)
      assert.equal((await sink.list({ limit: 1e9 })).items.length, 3)
    })

    it('skips metadata that does not parse or names another capture', async () => {
      const sink = new LocalDiskSink({ dir })
      const good = [makeMeta('cpu', 30), makeMeta('cpu', 10)]
      await putAll(sink, good)
      const broken = makeMeta('cpu', 20)
      await nodeFs.writeFile(join(dir, `${broken.id}.json`), '{"id": "trunc')
      await nodeFs.writeFile(join(dir, `${broken.id}.cpuprofile`), '{}')
      const impostor = makeMeta('cpu', 25)
      await nodeFs.writeFile(join(dir, `${impostor.id}.json`), JSON.stringify(good[0]))

      const page = await sink.list({ limit: 10 })
      assert.deepEqual(
        page.items.map((m) => m.id),
        [good[1]!.id, good[0]!.id],
      )
      assert.equal(await sink.get(broken.id), undefined)
      const first = await sink.list({ limit: 1 })
      const second = await sink.list({ limit: 1, cursor: first.nextCursor! })
      assert.deepEqual(
        [...first.items, ...second.items].map((m) => m.id),
        [good[1]!.id, good[0]!.id],
      )
    })
  })

  describe('retention', () => {
    it('keeps the newest maxCount captures', async () => {
      const sink = new LocalDiskSink({ dir, retention: { maxCount: 3 } })
      const metas = [50, 40, 30, 20, 10].map((ago) => makeMeta('cpu', ago))
      await putAll(sink, metas)
      const page = await sink.list({ limit: 10 })
      assert.deepEqual(
        page.items.map((m) => m.id),
        metas
          .slice(2)
          .map((m) => m.id)
          .reverse(),
      )
      assert.equal((await namesIn(dir)).length, 6, 'the bodies of deleted captures are gone too')
    })

    it('deletes the oldest captures until the bodies fit maxBytes, but keeps the newest', async () => {
      const sink = new LocalDiskSink({ dir, retention: { maxBytes: 250 } })
      const metas = [40, 30, 20, 10].map((ago) => makeMeta('cpu', ago, 100))
      await putAll(sink, metas, Buffer.alloc(100, 1))
      assert.deepEqual(
        (await sink.list({ limit: 10 })).items.map((m) => m.id),
        [metas[3]!.id, metas[2]!.id],
      )

      const huge = makeMeta('cpu', 0, 1000)
      await sink.put(huge, Buffer.alloc(1000, 2))
      assert.deepEqual(
        (await sink.list({ limit: 10 })).items.map((m) => m.id),
        [huge.id],
      )
    })

    it('deletes captures older than maxAgeMs, after a put and at start', async () => {
      const keepAll = new LocalDiskSink({ dir, retention: { maxAgeMs: Infinity } })
      const ancient = makeMeta('cpu', 20 * 24 * 60)
      const lastWeek = makeMeta('heap', 7 * 24 * 60)
      const today = makeMeta('cpu', 5)
      await putAll(keepAll, [ancient, lastWeek, today])
      assert.equal((await keepAll.list({ limit: 10 })).items.length, 3)

      const fortnight = new LocalDiskSink({ dir })
      assert.deepEqual(
        (await fortnight.list({ limit: 10 })).items.map((m) => m.id),
        [today.id, lastWeek.id],
      )

      const oneDay = new LocalDiskSink({ dir, retention: { maxAgeMs: DAY } })
      await oneDay.put(makeMeta('cpu', 2 * 24 * 60), Buffer.from('{}'))
      assert.deepEqual(
        (await oneDay.list({ limit: 10 })).items.map((m) => m.id),
        [today.id],
      )
      assert.equal((await namesIn(dir)).length, 2)
    })

    it('keeps 2 GiB of bodies by default, so several large heap snapshots fit', async () => {
      const MIB = 1024 * 1024
      // Bodies are reported as 600 MiB each without writing them.
      const sink = new LocalDiskSink({
        dir,
        fs: {
          ...nodeFs,
          stat: async (path) => {
            const stats = await nodeFs.stat(path)
            return path.endsWith('.heapsnapshot') ? { size: 600 * MIB, mtimeMs: stats.mtimeMs } : stats
          },
        },
      })
      const metas = [40, 30, 20, 10].map((ago) => makeMeta('heapsnapshot', ago, 600 * MIB))
      await putAll(sink, metas.slice(0, 3))
      assert.deepEqual(
        (await sink.list({ limit: 10 })).items.map((m) => m.id),
        [metas[2]!.id, metas[1]!.id, metas[0]!.id],
        '1800 MiB fits',
      )
      await sink.put(metas[3]!, Buffer.from('{}'))
      assert.deepEqual(
        (await sink.list({ limit: 10 })).items.map((m) => m.id),
        [metas[3]!.id, metas[2]!.id, metas[1]!.id],
        '2400 MiB does not: the oldest goes',
      )
    })

    it('never fails a put when retention cannot delete, and reports it to onError', async () => {
      const reported: TripwireError[] = []
      const sink = new LocalDiskSink({
        dir,
        retention: { maxCount: 1 },
        fs: { ...nodeFs, unlink: () => Promise.reject(errnoError('EACCES', 'unlink')) },
        onError: (error) => reported.push(error),
      })
      await putAll(sink, [makeMeta('cpu', 2), makeMeta('cpu', 1)])
      assert.equal((await sink.list({ limit: 10 })).items.length, 2)
      assert.ok(reported.length > 0)
      assert.equal(reported[0]!.code, ErrorCodes.SINK_PERMISSION)
    })
  })

  describe('untrusted ids', () => {
    const badIds = [
      '../etc/passwd',
      '..%2F..%2Fx',
      '20261121T223301Z-cpu-3f9a1c0e/../../x',
      '',
      'a'.repeat(10_000),
      '20261121T223301Z-cpu-3F9A1C0E',
      `${createCaptureId('cpu')}.json`,
    ]

    it('rejects them in get, delete and put without touching anything outside dir', async () => {
      await nodeFs.mkdir(join(root, 'etc'))
      await nodeFs.writeFile(join(root, 'etc', 'passwd'), 'root:x:0:0')
      await nodeFs.writeFile(join(root, 'x'), 'sentinel')
      const sink = new LocalDiskSink({ dir })
      const survivor = makeMeta('cpu', 1)
      await sink.put(survivor, Buffer.from('{}'))

      for (const id of badIds) {
        await assert.rejects(sink.get(id), isCode(ErrorCodes.INVALID_ID), `get ${id.slice(0, 40)}`)
        await assert.rejects(sink.delete(id), isCode(ErrorCodes.INVALID_ID), `delete ${id.slice(0, 40)}`)
        const body = Readable.from([Buffer.from('{}')])
        await assert.rejects(
          sink.put({ ...makeMeta('cpu', 0), id }, body),
          isCode(ErrorCodes.INVALID_ID),
          `put ${id.slice(0, 40)}`,
        )
        assert.ok(body.destroyed, 'put owns the stream and destroys it when it rejects')
      }

      const long = await sink.get('a'.repeat(10_000)).catch((error: Error) => error)
      assert.ok(long instanceof Error && long.message.length < 300, 'a long id is not echoed whole')
      assert.deepEqual(await namesIn(root), ['etc', 'profiles', 'x'])
      assert.equal(await nodeFs.readFile(join(root, 'etc', 'passwd'), 'utf8'), 'root:x:0:0')
      assert.equal(await nodeFs.readFile(join(root, 'x'), 'utf8'), 'sentinel')
      assert.deepEqual(await namesIn(dir), [`${survivor.id}.cpuprofile`, `${survivor.id}.json`])
    })

    it('rejects metadata whose kind differs from the kind in its id', async () => {
      const sink = new LocalDiskSink({ dir })
      await assert.rejects(
        sink.put({ ...makeMeta('cpu', 0), kind: 'heap' }, Buffer.from('{}')),
        isCode(ErrorCodes.INVALID_ID),
      )
      await assert.rejects(
        sink.put(makeMeta('cpu', 0), 'not a body' as unknown as Buffer),
        isCode(ErrorCodes.INVALID_REQUEST),
      )
      await assert.rejects(nodeFs.stat(dir), { code: 'ENOENT' }, 'input is checked before any I/O')
    })
  })

  describe('failures leave nothing visible', () => {
    async function assertNothingStored(sink: LocalDiskSink): Promise<void> {
      assert.deepEqual((await sink.list({ limit: 10 })).items, [])
      assert.deepEqual(await namesIn(dir), [], 'no capture and no temp file is left')
    }

    it('rejects with SINK_IO when the body stream errors midway', async () => {
      const sink = new LocalDiskSink({ dir })
      const meta = makeMeta('cpu', 0)
      function* failing(): Generator<Buffer> {
        yield Buffer.alloc(64 * 1024, 1)
        yield Buffer.alloc(64 * 1024, 2)
        throw new Error('inspector connection lost')
      }
      await assert.rejects(sink.put(meta, Readable.from(failing())), (error: TripwireError) => {
        isCode(ErrorCodes.SINK_IO)(error)
        assert.match(error.message, /body stream failed \(inspector connection lost\)/)
        assert.ok(error.cause instanceof Error)
        return true
      })
      assert.equal(await sink.get(meta.id), undefined)
      await assertNothingStored(sink)
    })

    it('rejects with SINK_DISK_FULL when a write hits ENOSPC', async () => {
      const fs = fsWithTempOpen(async (path) => {
        const real = await nodeFs.open(path, 'wx', 0o600)
        return {
          write: () => Promise.reject(errnoError('ENOSPC', 'write')),
          sync: () => real.sync(),
          close: () => real.close(),
          createReadStream: () => real.createReadStream(),
        }
      })
      const sink = new LocalDiskSink({ dir, fs })
      for (const body of [Buffer.from('{"nodes":[]}'), Readable.from([Buffer.from('{"nodes":[]}')])]) {
        await assert.rejects(sink.put(makeMeta('cpu', 0), body), (error: TripwireError) => {
          isCode(ErrorCodes.SINK_DISK_FULL)(error)
          assert.match(error.message, /disk \(or quota\) is full/)
          assert.ok(error.message.includes(dir))
          assert.equal((error.cause as NodeJS.ErrnoException).code, 'ENOSPC')
          return true
        })
      }
      await assertNothingStored(sink)
    })

    it('rejects with SINK_DISK_FULL when the metadata write hits ENOSPC after the body was written', async () => {
      let opened = 0
      const fs = fsWithTempOpen(async (path) => {
        const real = await nodeFs.open(path, 'wx', 0o600)
        const failing = ++opened === 2
        return {
          write: (buffer, offset, length) =>
            failing ? Promise.reject(errnoError('ENOSPC', 'write')) : real.write(buffer, offset, length),
          sync: () => real.sync(),
          close: () => real.close(),
          createReadStream: () => real.createReadStream(),
        }
      })
      const sink = new LocalDiskSink({ dir, fs })
      await assert.rejects(
        sink.put(makeMeta('cpu', 0), Buffer.alloc(1024)),
        isCode(ErrorCodes.SINK_DISK_FULL),
      )
      await assertNothingStored(sink)
    })

    it('rejects with SINK_PERMISSION when a temp file cannot be opened (EACCES)', async () => {
      const sink = new LocalDiskSink({
        dir,
        fs: fsWithTempOpen(() => Promise.reject(errnoError('EACCES', 'open'))),
      })
      const body = Readable.from([Buffer.from('{}')])
      await assert.rejects(sink.put(makeMeta('heap', 0), body), (error: TripwireError) => {
        isCode(ErrorCodes.SINK_PERMISSION)(error)
        assert.match(error.message, /Give the process read and write access/)
        return true
      })
      assert.ok(body.destroyed)
      await assertNothingStored(sink)
    })

    it('rejects with SINK_PERMISSION on every call while the directory cannot be created, then recovers', async () => {
      let denied = true
      const sink = new LocalDiskSink({
        dir,
        fs: {
          ...nodeFs,
          mkdir: (path, options) =>
            denied ? Promise.reject(errnoError('EACCES', 'mkdir')) : nodeFs.mkdir(path, options),
        },
      })
      await assert.rejects(sink.list({ limit: 1 }), isCode(ErrorCodes.SINK_PERMISSION))
      await assert.rejects(
        sink.put(makeMeta('cpu', 0), Buffer.from('{}')),
        isCode(ErrorCodes.SINK_PERMISSION),
      )
      denied = false
      await sink.put(makeMeta('cpu', 0), Buffer.from('{}'))
      assert.equal((await sink.list({ limit: 10 })).items.length, 1)
    })
  })

  describe('start-up cleanup', () => {
    it('removes crash leftovers but keeps complete captures, fresh temp files and foreign files', async () => {
      const first = new LocalDiskSink({ dir })
      const complete = makeMeta('cpu', 30)
      await first.put(complete, Buffer.from('{"complete":true}'))

      const orphan = makeMeta('heap', 20)
      const orphanBody = `${orphan.id}.heapprofile`
      // pid 1 is always running, so these go only because they outlived the grace period.
      const staleTemp = `.tmp-1-${orphan.id}-a1b2c3d4e5f6.body`
      const staleTempMeta = `.tmp-1-${orphan.id}-a1b2c3d4e5f6.meta`
      const freshTemp = `.tmp-1-${makeMeta('cpu', 0).id}-0123456789ab.body`
      // Names outside the sink's exact pattern belong to someone else, however old.
      const foreign = [
        '.tmp-something',
        `.tmp-${orphan.id}-a1b2c3d4e5f6.body`,
        `.tmp-1-${orphan.id}-a1b2c3d4e5f6.body.bak`,
        `.tmp-1-not-an-id-a1b2c3d4e5f6.meta`,
      ]
      for (const name of [orphanBody, staleTemp, staleTempMeta, freshTemp, 'README.txt', ...foreign]) {
        await nodeFs.writeFile(join(dir, name), 'partial')
      }
      const anHourAgo = new Date(Date.now() - 60 * MINUTE)
      for (const name of [orphanBody, staleTemp, staleTempMeta, 'README.txt', ...foreign]) {
        await nodeFs.utimes(join(dir, name), anHourAgo, anHourAgo)
      }

      const restarted = new LocalDiskSink({ dir })
      const page = await restarted.list({ limit: 10 })
      assert.deepEqual(
        page.items.map((m) => m.id),
        [complete.id],
      )
      assert.deepEqual(
        await namesIn(dir),
        [freshTemp, `${complete.id}.cpuprofile`, `${complete.id}.json`, 'README.txt', ...foreign].sort(),
      )
      const stored = await restarted.get(complete.id)
      assert.ok(stored)
      assert.equal((await readAll(stored.body)).toString(), '{"complete":true}')
    })

    it("removes fresh temp files at once when their writer is gone, and keeps a live writer's", async () => {
      const deadPid = await new Promise<number>((resolve) => {
        const child = spawn(process.execPath, ['-e', ''])
        child.on('exit', () => resolve(child.pid!))
      })
      await nodeFs.mkdir(dir, { recursive: true })
      const id = makeMeta('cpu', 0).id
      const ofDeadWriter = `.tmp-${deadPid}-${id}-0123456789ab.body`
      const ofThisProcessBeforeStart = `.tmp-${process.pid}-${id}-0123456789ab.meta`
      const ofLiveWriter = `.tmp-1-${id}-0123456789ab.body` // pid 1 is always running
      for (const name of [ofDeadWriter, ofThisProcessBeforeStart, ofLiveWriter]) {
        await nodeFs.writeFile(join(dir, name), 'partial')
      }
      const beforeThisProcess = new Date(Date.now() - process.uptime() * 1000 - MINUTE)
      await nodeFs.utimes(join(dir, ofThisProcessBeforeStart), beforeThisProcess, beforeThisProcess)
      const sink = new LocalDiskSink({ dir })
      assert.deepEqual((await sink.list({ limit: 10 })).items, [])
      assert.deepEqual(await namesIn(dir), [ofLiveWriter])
    })

    it("does not delete another sink's temp file of this process when it starts on the same directory", async () => {
      const first = new LocalDiskSink({ dir })
      const meta = makeMeta('heapsnapshot', 0)
      const body = new Readable({ read() {} })
      body.push(Buffer.from('{"snapshot":'))
      const put = first.put(meta, body)
      await fileAppears(`.tmp-${process.pid}-${meta.id}-`)

      const second = new LocalDiskSink({ dir })
      assert.deepEqual((await second.list({ limit: 10 })).items, [])

      body.push(Buffer.from('{}}'))
      body.push(null)
      await put
      assert.deepEqual(
        (await second.list({ limit: 10 })).items.map((m) => m.id),
        [meta.id],
      )
      const stored = await first.get(meta.id)
      assert.ok(stored)
      assert.equal((await readAll(stored.body)).toString(), '{"snapshot":{}}')
    })

    it('does no I/O in the constructor', async () => {
      const sink = new LocalDiskSink({ dir })
      await assert.rejects(nodeFs.stat(dir), { code: 'ENOENT' })
      await sink.close()
    })
  })

  describe('getMeta', () => {
    it('reads the metadata without opening the body, and refuses bad ids', async () => {
      const sink = new LocalDiskSink({ dir })
      const meta = makeMeta('cpu', 1)
      await sink.put(meta, Buffer.from('{}'))
      assert.deepEqual(await sink.getMeta(meta.id), meta)
      assert.equal(await sink.getMeta(makeMeta('heap', 2).id), undefined)
      await assert.rejects(sink.getMeta('../x'), isCode(ErrorCodes.INVALID_ID))
    })
  })

  describe('delete', () => {
    it('removes both files, then answers false; get answers undefined', async () => {
      const sink = new LocalDiskSink({ dir })
      const meta = makeMeta('heapsnapshot', 1)
      const other = makeMeta('cpu', 2)
      await putAll(sink, [meta, other])

      assert.equal(await sink.delete(meta.id), true)
      assert.deepEqual(await namesIn(dir), [`${other.id}.cpuprofile`, `${other.id}.json`])
      assert.equal(await sink.delete(meta.id), false)
      assert.equal(await sink.get(meta.id), undefined)
      assert.deepEqual(
        (await sink.list({ limit: 10 })).items.map((m) => m.id),
        [other.id],
      )
    })
  })

  describe('options', () => {
    const cases: [string, unknown][] = [
      ['dir', { dir: '' }],
      ['dir', { dir: 42 }],
      ['dir', {}],
      ['dir', undefined],
      ['dir', null],
      ['dir', './profiles'],
      ['retention.maxCount', { dir: 'p', retention: { maxCount: -1 } }],
      ['retention.maxCount', { dir: 'p', retention: { maxCount: 1.5 } }],
      ['retention.maxBytes', { dir: 'p', retention: { maxBytes: '1GB' } }],
      ['retention.maxAgeMs', { dir: 'p', retention: { maxAgeMs: 0 } }],
      ['retention', { dir: 'p', retention: 200 }],
      ['fs', { dir: 'p', fs: { open: () => undefined } }],
      ['onError', { dir: 'p', onError: 'console' }],
    ]
    for (const [option, options] of cases) {
      it(`rejects ${option} in ${JSON.stringify(options)} with INVALID_OPTIONS naming it`, () => {
        assert.throws(
          () => new LocalDiskSink(options as ConstructorParameters<typeof LocalDiskSink>[0]),
          (error: TripwireError) => {
            isCode(ErrorCodes.INVALID_OPTIONS)(error)
            assert.ok(error.message.startsWith(`LocalDiskSink: option "${option}" `), error.message)
            return true
          },
        )
      })
    }

    const typos: [unknown, string][] = [
      [
        { dir: 'p', retension: { maxCount: 10 } },
        'LocalDiskSink: option "retension" is not known; did you mean "retention"?',
      ],
      [
        { dir: 'p', retention: { maxAge: DAY } },
        'LocalDiskSink: option "retention.maxAge" is not known; did you mean "maxAgeMs"?',
      ],
    ]
    for (const [options, message] of typos) {
      it(`rejects the unknown option in ${JSON.stringify(options)} with a did-you-mean hint`, () => {
        assert.throws(
          () => new LocalDiskSink(options as ConstructorParameters<typeof LocalDiskSink>[0]),
          (error: TripwireError) => {
            isCode(ErrorCodes.INVALID_OPTIONS)(error)
            assert.equal(error.message, message)
            return true
          },
        )
      })
    }

    it('accepts Infinity for every retention limit', () => {
      const sink = new LocalDiskSink({
        dir,
        retention: { maxCount: Infinity, maxBytes: Infinity, maxAgeMs: Infinity },
      })
      assert.equal(sink.dir, dir)
    })
  })
})
