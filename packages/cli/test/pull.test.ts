/**
 * `tripwire pull` against a stand-in admin API and object store on loopback, for what a real service rarely
 * does on demand: redirect to a presigned URL, send bytes that do not match, cut or stall a download.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, beforeEach, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { dispositionFileName } from '../src/http/content-disposition.js'
import { renderProgress } from '../src/progress-bar.js'

const BIN = fileURLToPath(new URL('../dist/main.js', import.meta.url))
const ID = '20261121T223301Z-cpu-3f9a1c0e'
/** The stand-in does not verify tokens; any JWT-shaped string passes the CLI's own shape check. */
const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJzY29wZSI6InByb2ZpbGVzOnJlYWQifQ.c2lnbmF0dXJl'
const BODY = Buffer.from(JSON.stringify({ nodes: [], startTime: 0, endTime: 1, samples: [], timeDeltas: [] }))
const SHA256 = createHash('sha256').update(BODY).digest('hex')

interface Run {
  code: number
  stdout: string
  stderr: string
}

function tripwire(args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { PATH: process.env.PATH ?? '' }, timeout: 15_000, cwd },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') {
          reject(new Error(`tripwire ${args.join(' ')} did not exit normally: ${error.message}`))
          return
        }
        resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr })
      },
    )
  })
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void

/** A loopback server whose handler each test sets, and which records the requests it saw. */
async function stub(): Promise<{
  server: Server
  url: string
  seen: IncomingMessage[]
  handle: (h: Handler) => void
}> {
  let handler: Handler = (_req, res) => void res.writeHead(500).end()
  const seen: IncomingMessage[] = []
  const server = createServer((req, res) => {
    seen.push(req)
    handler(req, res)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    handle: (next) => {
      handler = next
    },
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
}

let dir: string
let service: Awaited<ReturnType<typeof stub>>
let storage: Awaited<ReturnType<typeof stub>>

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tripwire-cli-pull-'))
  service = await stub()
  storage = await stub()
})

after(async () => {
  for (const { server } of [service, storage]) {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  await rm(dir, { recursive: true, force: true })
})

/** The service: metadata for ID, and its profile as a redirect to the storage stub. */
function serviceRedirecting(
  meta: { bytes: number; sha256: string } = { bytes: BODY.length, sha256: SHA256 },
) {
  service.handle((req, res) => {
    const path = req.url?.split('?')[0]
    if (path === `/_tripwire/captures/${ID}`) {
      json(res, 200, { id: ID, kind: 'cpu', status: 'completed', ...meta })
    } else if (path === `/_tripwire/captures/${ID}/profile`) {
      res.writeHead(302, { location: `${storage.url}/bucket/${ID}.cpuprofile?X-Amz-Signature=abc` }).end()
    } else {
      json(res, 404, { error: { code: 'ERR_TRIPWIRE_NOT_FOUND', message: 'no such route' } })
    }
  })
}

async function workdir(): Promise<string> {
  return mkdtemp(join(dir, 'cwd-'))
}

describe('pull through a redirect to a presigned URL', () => {
  beforeEach(() => {
    service.seen.length = 0
    storage.seen.length = 0
  })

  test('follows it without the admin token, and checks the body against the metadata', async () => {
    serviceRedirecting()
    storage.handle((_req, res) => {
      res.writeHead(200, {
        'content-length': BODY.length,
        'content-disposition': 'attachment; filename="s3.cpuprofile"',
      })
      res.end(BODY)
    })
    const cwd = await workdir()
    const result = await tripwire(['pull', `${service.url}/_tripwire`, ID, '--token', TOKEN, '--json'], cwd)
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(JSON.parse(result.stdout), {
      id: ID,
      file: 's3.cpuprofile',
      bytes: BODY.length,
      sha256: SHA256,
    })
    assert.deepEqual(await readFile(join(cwd, 's3.cpuprofile')), BODY)
    assert.ok(service.seen.every((req) => req.headers.authorization === `Bearer ${TOKEN}`))
    assert.equal(storage.seen.length, 1)
    assert.equal(storage.seen[0]!.headers.authorization, undefined, 'the token never reaches the storage')
  })

  test('a sha256 mismatch fails with one line, and no file or temporary file is left', async () => {
    serviceRedirecting()
    const tampered = Buffer.from(BODY)
    tampered[tampered.length - 2] = 0x30
    storage.handle(
      (_req, res) => void res.writeHead(200, { 'content-length': tampered.length }).end(tampered),
    )
    const cwd = await workdir()
    const result = await tripwire(
      ['pull', `${service.url}/_tripwire`, ID, '--token', TOKEN, '-o', 'x.cpuprofile'],
      cwd,
    )
    assert.equal(result.code, 1)
    assert.match(result.stderr, /^tripwire: capture \S+: sha256 mismatch, .*nothing was kept\n$/)
    assert.deepEqual(await readdir(cwd), [])
  })

  test('a download cut short fails, and leaves nothing behind', async () => {
    serviceRedirecting()
    storage.handle((_req, res) => {
      res.writeHead(200, { 'content-length': BODY.length * 10 })
      res.write(BODY, () => res.destroy())
    })
    const cwd = await workdir()
    const result = await tripwire(['pull', `${service.url}/_tripwire`, ID, '--token', TOKEN], cwd)
    assert.equal(result.code, 1)
    assert.match(result.stderr, /^tripwire: [^\n]*(?:cut|failed)[^\n]*\n$/)
    assert.deepEqual(await readdir(cwd), [])
  })

  test('a download that stalls ends after --timeout', async () => {
    serviceRedirecting()
    storage.handle((_req, res) => {
      res.writeHead(200, { 'content-length': BODY.length * 10 })
      res.write(BODY)
    })
    const cwd = await workdir()
    const result = await tripwire(
      ['pull', `${service.url}/_tripwire`, ID, '--token', TOKEN, '--timeout', '1'],
      cwd,
    )
    assert.equal(result.code, 1)
    assert.match(
      result.stderr,
      /^tripwire: the transfer from 127\.0\.0\.1:\d+ stalled: nothing arrived for 1 s/,
    )
    assert.deepEqual(await readdir(cwd), [])
  })

  test('a file name that is a path is not used; the capture id names the file instead', async () => {
    serviceRedirecting()
    storage.handle((_req, res) => {
      res.writeHead(200, { 'content-disposition': 'attachment; filename="../../escaped.cpuprofile"' })
      res.end(BODY)
    })
    const cwd = await workdir()
    const result = await tripwire(['pull', `${service.url}/_tripwire`, ID, '--token', TOKEN], cwd)
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdout, `${ID}.cpuprofile\n`)
    assert.deepEqual(await readdir(cwd), [`${ID}.cpuprofile`])
  })

  test('an expired presigned link: one line that says to try again', async () => {
    serviceRedirecting()
    storage.handle(
      (_req, res) => void res.writeHead(403, { 'content-type': 'application/xml' }).end('<Error/>'),
    )
    const result = await tripwire(['pull', `${service.url}/_tripwire`, ID, '--token', TOKEN], await workdir())
    assert.equal(result.code, 1)
    assert.match(result.stderr, /^tripwire: capture \S+: 403 from the storage at .*try again\n$/)
  })
})

describe('pull: the pieces', () => {
  test('Content-Disposition: plain names only', () => {
    assert.equal(dispositionFileName('attachment; filename="a-1.cpuprofile"'), 'a-1.cpuprofile')
    assert.equal(dispositionFileName("attachment; filename*=UTF-8''b.pb.gz"), 'b.pb.gz')
    assert.equal(dispositionFileName('attachment; filename=c.heapprofile'), 'c.heapprofile')
    for (const hostile of ['../x', '/etc/passwd', '.bashrc', 'a b', 'x\\y', '']) {
      assert.equal(dispositionFileName(`attachment; filename="${hostile}"`), undefined, hostile)
    }
    assert.equal(dispositionFileName(null), undefined)
  })

  test('the progress bar: share, sizes, and a line that fits the terminal', () => {
    const line = renderProgress('x.cpuprofile', 512 * 1024, 1024 * 1024, 80)
    assert.match(line, /^x\.cpuprofile \[#+-+\] {2}50% {2}512\.0 KiB \/ 1\.0 MiB$/)
    assert.ok(line.length <= 80)
    assert.equal(renderProgress('x', 2048, undefined, 80), 'x  2.0 KiB')
    assert.ok(renderProgress('a-very-long-file-name.cpuprofile', 1, 2, 30).length <= 30)
  })
})
