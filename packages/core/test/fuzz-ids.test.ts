import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import * as nodeFs from 'node:fs/promises'
import { Agent, createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join, relative, resolve, sep } from 'node:path'
import { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import fc from 'fast-check'
import jwt from 'jsonwebtoken'
import { createAdminHandler } from '../src/admin/admin-handler.js'
import {
  assertCaptureId,
  CAPTURE_ID_PATTERN,
  createCaptureId,
  isCaptureId,
  kindOfCaptureId,
  timeOfCaptureId,
} from '../src/capture-id.js'
import { CAPTURE_KINDS, captureFileName } from '../src/capture-kinds.js'
import { createTripwire, type TripwireController } from '../src/controller.js'
import { ErrorCodes, isTripwireError } from '../src/errors.js'
import { LocalDiskSink } from '../src/sinks/local-disk.js'
import { recordingFs } from './fixtures/recording-fs.js'
import { sendRaw, type RawAnswer } from './fixtures/raw-request.js'
import type { CaptureKind, CaptureMeta } from '../src/types.js'

const SECRET = 'the-ids-secret-of-at-least-thirty-two-bytes'
const SERVICE = 'checkout'
const PREFIX = '/_tripwire'
const KINDS = Object.keys(CAPTURE_KINDS) as CaptureKind[]
/** What must never be in an id that names a file or an object key. */
const PATH_HAZARDS = ['/', '\\', '..', '.', '\0', '%', ':', '\n', ' ']

/**
 * Any code point, lone surrogates included, mostly ASCII. Cheaper to start than fast-check's 'binary' unit,
 * which spends seconds on its first use.
 */
const anyCodePoint = fc
  .oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0, max: 0x10ffff }))
  .map((code) => String.fromCodePoint(code))

const idDate = fc.date({
  min: new Date('1970-01-01T00:00:00Z'),
  max: new Date('9999-12-31T23:59:59Z'),
  noInvalidDate: true,
})
const validId = fc.tuple(fc.constantFrom(...KINDS), idDate).map(([kind, at]) => createCaptureId(kind, at))

/** Ids built from the documented grammar, beyond what createCaptureId makes (longer random tails). */
const grammarId = fc
  .record({
    date: fc.stringMatching(/^\d{8}$/),
    time: fc.stringMatching(/^\d{6}$/),
    kind: fc.constantFrom(...KINDS),
    tail: fc.stringMatching(/^[0-9a-f]{8,32}$/),
  })
  .map(({ date, time, kind, tail }) => `${date}T${time}Z-${kind}-${tail}`)
  .filter((id) => id.length <= 64)

/** A valid id with one edit that a path or an object key could misread, or that breaks the grammar. */
const nearId = fc
  .tuple(
    fc.oneof(validId, grammarId),
    fc.nat(),
    fc.oneof(
      fc.constantFrom(
        ...PATH_HAZARDS,
        '..%2f',
        '%2e%2e',
        '/../',
        '\\..\\',
        '\r\n',
        '\u2215',
        '\uff0e\uff0e',
        'é',
      ),
      fc.string({ unit: anyCodePoint, minLength: 1, maxLength: 4 }),
    ),
    fc.constantFrom('insert', 'replace', 'upper', 'append', 'prepend', 'truncate', 'extend'),
  )
  .map(([id, at, text, how]) => {
    const index = at % (id.length + 1)
    switch (how) {
      case 'insert':
        return id.slice(0, index) + text + id.slice(index)
      case 'replace':
        return id.slice(0, index) + text + id.slice(index + 1)
      case 'upper':
        return id.toUpperCase()
      case 'append':
        return id + text
      case 'prepend':
        return text + id
      case 'truncate':
        return id.slice(0, index)
      case 'extend':
        return `${id}${'0'.repeat(33)}`
    }
  })

const anyString = fc.oneof(
  fc.string({ unit: anyCodePoint, maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  nearId,
  fc.integer({ min: 60, max: 100_000 }).map((length) => '9'.repeat(length)),
)

/** An independent reading of the documented grammar, for agreement with the implementation. */
function followsGrammar(value: string): boolean {
  const [stamp, kind, tail, ...rest] = value.split('-')
  return (
    rest.length === 0 &&
    stamp !== undefined &&
    stamp.length === 16 &&
    [...stamp].every((char, index) =>
      index === 8 ? char === 'T' : index === 15 ? char === 'Z' : char >= '0' && char <= '9',
    ) &&
    KINDS.includes(kind as CaptureKind) &&
    tail !== undefined &&
    tail.length >= 8 &&
    tail.length <= 32 &&
    [...tail].every((char) => '0123456789abcdef'.includes(char))
  )
}

describe('capture ids', () => {
  test('isCaptureId never throws, agrees with assertCaptureId, and accepts only hazard-free ids', () => {
    fc.assert(
      fc.property(fc.oneof(anyString, fc.anything()), (value) => {
        const accepted = isCaptureId(value)
        let thrown: unknown
        try {
          assertCaptureId(value)
        } catch (error) {
          thrown = error
        }
        assert.equal(thrown === undefined, accepted)
        if (!accepted) {
          assert.ok(isTripwireError(thrown) && thrown.code === ErrorCodes.INVALID_ID, String(thrown))
          // the message quotes at most the start of what it was given
          assert.ok(thrown.message.length < 600, `a ${thrown.message.length}-character message`)
          return
        }
        const id = value
        assert.ok(id.length <= 64)
        assert.match(id, CAPTURE_ID_PATTERN)
        assert.ok(followsGrammar(id), id)
        for (const hazard of PATH_HAZARDS)
          assert.ok(!id.includes(hazard), `${JSON.stringify(id)} holds ${JSON.stringify(hazard)}`)
        assert.ok(KINDS.includes(kindOfCaptureId(id)))
      }),
      { numRuns: 1000 },
    )
  })

  test('every id of the documented grammar is accepted, and strings outside it refused', () => {
    fc.assert(
      fc.property(fc.oneof(grammarId, nearId, anyString), (value) => {
        assert.equal(isCaptureId(value), followsGrammar(value) && value.length <= 64, JSON.stringify(value))
      }),
      { numRuns: 1000 },
    )
  })

  test('createCaptureId makes valid ids that name their kind and start time', () => {
    fc.assert(
      fc.property(fc.constantFrom(...KINDS), idDate, (kind, at) => {
        const id = createCaptureId(kind, at)
        assert.ok(isCaptureId(id), id)
        assert.equal(kindOfCaptureId(id), kind)
        assert.equal(timeOfCaptureId(id), Math.floor(at.getTime() / 1000) * 1000)
      }),
      { numRuns: 300 },
    )
  })
})

// ---------------------------------------------------------------------------------------------------------

let root: string
let sinkDir: string
/** Every path the sink's file system was asked about, since it was last emptied. */
const touched: string[] = []
let sink: LocalDiskSink
let controller: TripwireController
let server: Server
let port: number
const agent = new Agent({ keepAlive: true, maxSockets: 4 })
const sentinels: string[] = []

/** Empties the record, asserting that every path in it is the sink directory or a file directly in it. */
function assertOnlySinkTouched(context: string): string[] {
  const paths = touched.splice(0)
  for (const path of paths) {
    const inside = relative(sinkDir, resolve(path))
    assert.ok(
      inside === '' || (!inside.startsWith('..') && !inside.includes(sep)),
      `${context} touched ${path}`,
    )
  }
  return paths
}

/** Reads and writes: these properties are about ids, not about scopes. */
const adminToken = jwt.sign(
  { scope: 'profiles:read profiles:write', aud: SERVICE, exp: Math.floor(Date.now() / 1000) + 600 },
  SECRET,
  { algorithm: 'HS256', keyid: 'k1' },
)

before(async () => {
  root = await nodeFs.mkdtemp(join(tmpdir(), 'tripwire-fuzz-ids-'))
  sinkDir = join(root, 'profiles')
  // beside the sink, named as a capture would be: reachable only by a traversal
  const outside = createCaptureId('cpu')
  for (const name of [`${outside}.json`, captureFileName(outside, 'cpu'), 'passwd']) {
    const path = join(root, name)
    await nodeFs.writeFile(path, `sentinel ${name}`)
    sentinels.push(path)
  }
  sink = new LocalDiskSink({ dir: sinkDir, fs: recordingFs(touched) })
  controller = createTripwire({ service: SERVICE, keys: [{ kid: 'k1', secret: SECRET }], sink })
  const handler = createAdminHandler(controller)
  server = createServer((req, res) => {
    void handler(req, res).then((handled) => {
      if (!handled) res.writeHead(404).end()
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  port = (server.address() as AddressInfo).port
})

after(async () => {
  agent.destroy()
  server.closeAllConnections()
  await new Promise<void>((done) => server.close(() => done()))
  await controller.close()
  for (const path of sentinels) assert.match(await nodeFs.readFile(path, 'utf8'), /^sentinel /)
  await nodeFs.rm(root, { recursive: true, force: true })
})

function send(method: string, path: string): Promise<RawAnswer> {
  const headers: Record<string, string> = { authorization: `Bearer ${adminToken}` }
  if (method === 'POST') headers['content-type'] = 'application/json'
  return sendRaw({ port, agent, method, path, headers })
}

function codeOf(body: Buffer): string {
  return (JSON.parse(body.toString('utf8')) as { error: { code: string } }).error.code
}

function completedMeta(id: string, body: Buffer): CaptureMeta {
  const kind = kindOfCaptureId(id)
  return {
    id,
    kind,
    status: 'completed',
    trigger: { type: 'api', reason: 'fuzz' },
    requested: { durationMs: 1000, mode: 'window' },
    startedAt: new Date(timeOfCaptureId(id)).toISOString(),
    endedAt: new Date(timeOfCaptureId(id) + 1000).toISOString(),
    durationMs: 1000,
    bytes: body.length,
    sha256: createHash('sha256').update(body).digest('hex'),
    contentType: CAPTURE_KINDS[kind].contentType,
    fileName: captureFileName(id, kind),
    host: 'fuzz',
    pid: process.pid,
    service: SERVICE,
    version: '0.0.0',
    runtime: { node: process.versions.node, v8: process.versions.v8 },
    labels: {},
  }
}

/** Bytes from a xorshift generator: large bodies that replay from fast-check's seed alone. */
function pseudoRandomBytes(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length)
  let state = seed | 0 || 1
  for (let index = 0; index < length; index++) {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    bytes[index] = state & 0xff
  }
  return bytes
}

/** Recent ids, so that retention (14 days by default) keeps what a run stores. */
const recentId = fc
  .tuple(fc.constantFrom(...KINDS), fc.integer({ min: 0, max: 24 * 3600 }))
  .map(([kind, secondsAgo]) => createCaptureId(kind, new Date(Date.now() - secondsAgo * 1000)))

describe('LocalDiskSink with arbitrary ids', () => {
  test('get, getMeta and delete refuse malformed ids before any file-system call; others stay in the directory', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(anyString, recentId, fc.anything()),
        fc.constantFrom('get', 'getMeta', 'delete'),
        async (id, operation) => {
          touched.splice(0)
          const context = `${operation}(${JSON.stringify(id)?.slice(0, 100)})`
          let outcome: unknown
          try {
            outcome = await sink[operation](id as string)
          } catch (error) {
            assert.ok(
              isTripwireError(error) && error.code === ErrorCodes.INVALID_ID,
              `${context}: ${String(error)}`,
            )
            assert.equal(isCaptureId(id), false, context)
            assert.deepEqual(touched, [], `${context} reached the file system`)
            return
          }
          assert.ok(isCaptureId(id), `${context} was not refused`)
          // nothing is stored under these ids
          assert.equal(outcome, operation === 'delete' ? false : undefined, context)
          assertOnlySinkTouched(context)
        },
      ),
      { numRuns: 400 },
    )
  })

  test('a stored capture reads back byte-for-byte, through the sink and the download route, until deleted', async () => {
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 4096 }).map((bytes) => [Buffer.from(bytes)]),
      fc
        .array(fc.uint8Array({ minLength: 1, maxLength: 2048 }), { minLength: 1, maxLength: 4 })
        .map((chunks) => chunks.map((chunk) => Buffer.from(chunk))),
      // larger than a read stream's chunk, which fast-check's small default sizes never reach
      fc
        .tuple(fc.integer({ min: 64 * 1024, max: 400 * 1024 }), fc.integer({ min: 1 }), fc.nat())
        .map(([length, seed, cut]) => {
          const bytes = pseudoRandomBytes(length, seed)
          const at = cut % length
          return [bytes.subarray(0, at), bytes.subarray(at)]
        }),
    )
    await fc.assert(
      fc.asyncProperty(recentId, body, fc.boolean(), async (id, chunks, asStream) => {
        const bytes = Buffer.concat(chunks)
        const meta = completedMeta(id, bytes)
        await sink.put(meta, asStream ? Readable.from(chunks) : bytes)
        assertOnlySinkTouched(`put(${id})`)
        try {
          assert.deepEqual(await sink.getMeta(id), meta)
          const stored = await sink.get(id)
          assert.ok(stored !== undefined)
          const read: Buffer[] = []
          for await (const chunk of stored.body) read.push(chunk as Buffer)
          assert.ok(Buffer.concat(read).equals(bytes), 'the sink returned other bytes')

          const answer = await send('GET', `${PREFIX}/captures/${id}/profile`)
          assert.equal(answer.status, 200, answer.body.toString().slice(0, 200))
          assert.ok(answer.body.equals(bytes), 'the download returned other bytes')
          assert.equal(answer.headers['content-length'], String(bytes.length))
          assert.equal(answer.headers.etag, `"${meta.sha256}"`)
          assert.equal(
            answer.headers['content-disposition'],
            `attachment; filename="${captureFileName(id, meta.kind)}"`,
          )
          assertOnlySinkTouched(`download of ${id}`)
        } finally {
          assert.equal(await sink.delete(id), true)
        }
        assert.equal(await sink.get(id), undefined)
        assert.deepEqual(
          (await nodeFs.readdir(sinkDir)).filter((name) => name.startsWith(id)),
          [],
        )
        assertOnlySinkTouched(`delete(${id})`)
      }),
      { numRuns: 30 },
    )
  })
})

describe('capture routes with arbitrary id segments', () => {
  /** Path segments as a client may send them: raw visible ASCII (no / ? #) or percent-encoded anything. */
  const rawSegment = fc.oneof(
    fc.string({
      unit: fc
        .integer({ min: 0x21, max: 0x7e })
        .map((code) => String.fromCharCode(code))
        .filter((char) => !'/?#'.includes(char)),
      minLength: 1,
      maxLength: 70,
    }),
    fc.oneof(fc.string({ unit: 'grapheme', maxLength: 40 }), validId).map(encodeURIComponent),
    // every UTF-8 byte escaped, lone surrogates included (encodeURIComponent refuses those)
    fc
      .oneof(fc.string({ unit: anyCodePoint, maxLength: 40 }), nearId, validId)
      .map((text) => [...Buffer.from(text)].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('')),
    fc.constantFrom(
      '..',
      '.',
      '%2e%2e',
      '%2E%2E%2F%2E%2E',
      '..%5c..',
      '%00',
      '%',
      '%zz',
      '%E0%A4%A',
      '%C0%AE%C0%AE',
    ),
    validId.map((id) => `${id}%2F..%2F..%2Fpasswd`),
    validId.map((id) => id.replace(/\d/, (digit) => `%3${digit}`)),
  )
  const route = fc.constantFrom(
    { method: 'GET', suffix: '/profile' },
    { method: 'GET', suffix: '' },
    { method: 'GET', suffix: '/flamegraph' },
    { method: 'DELETE', suffix: '' },
    { method: 'POST', suffix: '/stop' },
  )

  test('a malformed escape is INVALID_REQUEST, anything but an id INVALID_ID, an unknown id 404; all stay in the sink', async () => {
    await fc.assert(
      fc.asyncProperty(rawSegment, route, async (segment, { method, suffix }) => {
        const path = `${PREFIX}/captures/${segment}${suffix}`
        const answer = await send(method, path)
        let decoded: string | undefined
        try {
          decoded = decodeURIComponent(segment)
        } catch {
          decoded = undefined
        }
        const context = `${method} ${path.slice(0, 200)}: ${answer.status} ${answer.body.toString().slice(0, 200)}`
        const expected =
          decoded === undefined
            ? [400, ErrorCodes.INVALID_REQUEST]
            : isCaptureId(decoded)
              ? [404, ErrorCodes.NOT_FOUND]
              : [400, ErrorCodes.INVALID_ID]
        assert.deepEqual([answer.status, codeOf(answer.body)], expected, context)
        const paths = assertOnlySinkTouched(context)
        if (expected[0] === 400) assert.deepEqual(paths, [], `${context} reached the file system`)
      }),
      { numRuns: 300 },
    )
  })
})
