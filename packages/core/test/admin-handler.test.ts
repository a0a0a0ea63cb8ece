import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { gunzipSync } from 'node:zlib'
import jwt from 'jsonwebtoken'
import { Profile } from 'pprof-format'
import {
  createAdminHandler,
  createTripwire,
  ErrorCodes,
  LocalDiskSink,
  type CaptureMeta,
  type Sink,
  type TripwireController,
  type TripwireOptions,
} from '../src/index.js'

const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long'
const SERVICE = 'checkout'
const ID = '20261121T223301Z-cpu-3f9a1c0e'

interface TokenOptions {
  scope?: string
  secret?: string
  aud?: string
  expiresInSec?: number
  sub?: string
  claims?: Record<string, unknown>
}

function mint({
  scope = 'profiles:read profiles:write',
  secret = SECRET,
  aud = SERVICE,
  expiresInSec = 600,
  sub = 'alice',
  claims = {},
}: TokenOptions = {}): string {
  const exp = Math.floor(Date.now() / 1000) + expiresInSec
  return jwt.sign({ scope, aud, exp, sub, ...claims }, secret, { algorithm: 'HS256', keyid: 'k1' })
}

const READ = mint({ scope: 'profiles:read' })
const WRITE = mint({ scope: 'profiles:write' })
const BOTH = mint()

let root: string
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tripwire-admin-'))
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

interface Harness {
  controller: TripwireController
  base: string
  close(): Promise<void>
}

let dirCount = 0
/** A controller (with the test key unless `withKeys` is false) behind a real HTTP server. */
async function serve(options: Partial<TripwireOptions> = {}, withKeys = true): Promise<Harness> {
  const dir = await mkdtemp(join(root, `a${dirCount++}-`))
  const controller = createTripwire({
    service: SERVICE,
    ...(withKeys && { keys: [{ kid: 'k1', secret: SECRET }] }),
    sink: new LocalDiskSink({ dir }),
    ...options,
    limits: { cooldownMs: 0, capturesPerHour: 100, ...options.limits },
  })
  const handler = createAdminHandler(controller)
  const server: Server = createServer((req, res) => {
    void handler(req, res).then((handled) => {
      if (!handled) res.end('app')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    controller,
    base: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await controller.close()
    },
  }
}

interface CallOptions {
  method?: string
  token?: string | null
  body?: unknown
  headers?: Record<string, string>
}

async function call(
  h: Harness,
  path: string,
  { method = 'GET', token = BOTH, body, headers = {} }: CallOptions = {},
) {
  const init: RequestInit = { method, headers: { ...headers }, redirect: 'manual' }
  const sent = init.headers as Record<string, string>
  if (token !== null) sent.authorization = `Bearer ${token}`
  // a real client says its writes are JSON, body or not (the handler refuses POSTs that do not)
  if (body !== undefined || method === 'POST') sent['content-type'] ??= 'application/json'
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body)
  return fetch(`${h.base}${path}`, init)
}

/**
 * A request whose path is sent exactly as written: `fetch` resolves `..` and `%2e%2e` before sending, which
 * would hide what a hostile client can send.
 */
function rawCall(h: Harness, method: string, path: string, token: string | null = BOTH) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(`${h.base}/`, {
      method,
      path,
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
    })
    req.on('response', (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

function codeOf(body: string): string | undefined {
  return (JSON.parse(body) as { error?: { code: string } }).error?.code
}

async function json<T = Record<string, unknown>>(response: Response): Promise<T> {
  return (await response.json()) as T
}

/** Asserts an error response: status, code, JSON content type and no caching. */
async function expectError(response: Response, status: number, code: string): Promise<string> {
  const text = await response.text()
  assert.equal(response.status, status, text)
  assert.match(response.headers.get('content-type') ?? '', /^application\/json; charset=utf-8$/)
  assert.equal(response.headers.get('cache-control'), 'no-store')
  const body = JSON.parse(text) as { error: { code: string; message: string } }
  assert.equal(body.error.code, code, body.error.message)
  assert.ok(body.error.message.length > 0)
  return body.error.message
}

async function startCapture(h: Harness, body: Record<string, unknown>): Promise<CaptureMeta> {
  const response = await call(h, '/_tripwire/captures', { method: 'POST', body })
  const meta = await json<CaptureMeta>(response)
  assert.equal(response.status, 202, JSON.stringify(meta))
  return meta
}

/** Polls until the capture is stored (it is neither running nor, briefly, being written). */
async function waitStored(h: Harness, id: string): Promise<CaptureMeta & { links?: { profile: string } }> {
  for (let i = 0; i < 200; i++) {
    const response = await call(h, `/_tripwire/captures/${id}`)
    const meta = await json<CaptureMeta & { links?: { profile: string } }>(response)
    assert.equal(response.status, 200, JSON.stringify(meta))
    if (meta.status !== 'running') return meta
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  assert.fail(`capture ${id} did not end`)
}

describe('routing', () => {
  let h: Harness
  before(async () => (h = await serve()))
  after(() => h.close())

  for (const path of [
    '/',
    '/users',
    '/_tripwirex',
    '/_tripwirex/status',
    '/_tripwire_/captures',
    '/x/_tripwire',
  ]) {
    test(`${path} falls through to the app`, async () => {
      const response = await call(h, path, { token: null })
      assert.equal(response.status, 200)
      assert.equal(await response.text(), 'app')
    })
  }

  test('creating a handler for a controller without an admin API throws', async () => {
    const controller = createTripwire({
      service: SERVICE,
      admin: false,
      sink: new LocalDiskSink({ dir: root }),
    })
    assert.throws(() => createAdminHandler(controller), { code: ErrorCodes.INVALID_OPTIONS })
    await controller.close()
  })
})

describe('a capture through its whole life', () => {
  let h: Harness
  before(async () => (h = await serve()))
  after(() => h.close())

  test('start, watch, download (header and link), list, delete', async () => {
    const response = await call(h, '/_tripwire/captures', {
      method: 'POST',
      body: { kind: 'cpu', durationMs: 200, labels: { ticket: 'OPS-1' }, reason: 'slow checkout' },
    })
    assert.equal(response.status, 202)
    assert.equal(response.headers.get('cache-control'), 'no-store')
    const started = await json<CaptureMeta>(response)
    assert.equal(response.headers.get('location'), `/_tripwire/captures/${started.id}`)
    assert.equal(started.status, 'running')
    assert.deepEqual(started.trigger, { type: 'admin', subject: 'alice', reason: 'slow checkout' })
    assert.equal(started.labels.ticket, 'OPS-1')

    const whileRunning = await call(h, `/_tripwire/captures/${started.id}`)
    assert.equal(whileRunning.status, 200)
    const runningMeta = await json<CaptureMeta & { links?: unknown }>(whileRunning)
    assert.equal(runningMeta.status, 'running')
    assert.equal(runningMeta.links, undefined)
    await expectError(
      await call(h, `/_tripwire/captures/${started.id}/profile`),
      409,
      ErrorCodes.CAPTURE_STATE,
    )
    await expectError(
      await call(h, `/_tripwire/captures/${started.id}`, { method: 'DELETE' }),
      409,
      ErrorCodes.CAPTURE_STATE,
    )

    const meta = await waitStored(h, started.id)
    assert.equal(meta.status, 'completed')
    assert.ok(meta.bytes > 0)
    assert.ok(meta.links !== undefined)
    assert.match(meta.links.profile, new RegExp(`^/_tripwire/captures/${meta.id}/profile\\?token=`))

    const download = await call(h, `/_tripwire/captures/${meta.id}/profile`, { token: READ })
    assert.equal(download.status, 200)
    const bytes = Buffer.from(await download.arrayBuffer())
    assert.equal(bytes.length, meta.bytes)
    assert.equal(createHash('sha256').update(bytes).digest('hex'), meta.sha256)
    assert.equal(download.headers.get('content-length'), String(meta.bytes))
    assert.equal(download.headers.get('content-type'), meta.contentType)
    assert.equal(download.headers.get('content-disposition'), `attachment; filename="${meta.id}.cpuprofile"`)
    assert.equal(download.headers.get('x-content-type-options'), 'nosniff')
    assert.equal(download.headers.get('etag'), `"${meta.sha256}"`)
    assert.ok(Array.isArray((JSON.parse(bytes.toString()) as { nodes: unknown }).nodes))

    const viaLink = await call(h, meta.links.profile, { token: null })
    assert.equal(viaLink.status, 200)
    assert.equal(
      createHash('sha256')
        .update(Buffer.from(await viaLink.arrayBuffer()))
        .digest('hex'),
      meta.sha256,
    )
    // a link opens one capture's profile, nothing else
    const token = new URL(meta.links.profile, h.base).searchParams.get('token')!
    await expectError(
      await call(h, `/_tripwire/captures/${ID}/profile?token=${token}`, { token: null }),
      403,
      ErrorCodes.FORBIDDEN,
    )
    await expectError(
      await call(h, `/_tripwire/captures/${meta.id}?token=${token}`, { token: null }),
      401,
      ErrorCodes.UNAUTHORIZED,
    )

    // a read token from the key set works as a link only if it is as narrow as one: bound to the capture
    const general = mint({ scope: 'profiles:read', expiresInSec: 120 })
    await expectError(
      await call(h, `/_tripwire/captures/${meta.id}/profile?token=${general}`, { token: null }),
      403,
      ErrorCodes.FORBIDDEN,
    )
    const bound = mint({ scope: 'profiles:read', expiresInSec: 120, claims: { cap: meta.id } })
    assert.equal(
      (await call(h, `/_tripwire/captures/${meta.id}/profile?token=${bound}`, { token: null })).status,
      200,
    )
    // a link never outlives the credentials of whoever asked for it
    const shortLived = mint({ expiresInSec: 20 })
    const viaShort = await json<{ links: { profile: string } }>(
      await call(h, `/_tripwire/captures/${meta.id}`, { token: shortLived }),
    )
    const linkToken = new URL(viaShort.links.profile, h.base).searchParams.get('token')!
    const linkExp = (jwt.decode(linkToken) as { exp: number }).exp
    assert.ok(linkExp <= Math.floor(Date.now() / 1000) + 20, `link exp ${linkExp}`)

    const list = await json<{ items: CaptureMeta[]; nextCursor?: string }>(
      await call(h, '/_tripwire/captures'),
    )
    assert.deepEqual(
      list.items.map((item) => item.id),
      [meta.id],
    )
    assert.equal(list.nextCursor, undefined)

    const deleted = await call(h, `/_tripwire/captures/${meta.id}`, { method: 'DELETE' })
    assert.equal(deleted.status, 204)
    assert.equal(await deleted.text(), '')
    await expectError(await call(h, `/_tripwire/captures/${meta.id}`), 404, ErrorCodes.NOT_FOUND)
    await expectError(
      await call(h, `/_tripwire/captures/${meta.id}`, { method: 'DELETE' }),
      404,
      ErrorCodes.NOT_FOUND,
    )
    await expectError(await call(h, `/_tripwire/captures/${meta.id}/profile`), 404, ErrorCodes.NOT_FOUND)
  })

  test('stop ends a running capture early; stopping it again is a conflict', async () => {
    const started = await startCapture(h, { kind: 'cpu' })
    assert.equal(started.requested.mode, 'manual')
    await new Promise((resolve) => setTimeout(resolve, 50))
    const stopped = await call(h, `/_tripwire/captures/${started.id}/stop`, { method: 'POST' })
    const meta = await json<CaptureMeta>(stopped)
    assert.equal(stopped.status, 200, JSON.stringify(meta))
    assert.equal(meta.status, 'completed')
    assert.ok(meta.durationMs !== undefined && meta.durationMs < 5000, `durationMs ${meta.durationMs}`)
    await expectError(
      await call(h, `/_tripwire/captures/${started.id}/stop`, { method: 'POST' }),
      409,
      ErrorCodes.CAPTURE_STATE,
    )
    await expectError(
      await call(h, `/_tripwire/captures/${ID}/stop`, { method: 'POST' }),
      404,
      ErrorCodes.NOT_FOUND,
    )
  })

  test('a second capture while one runs is busy, with retry-after', async () => {
    const first = await startCapture(h, { durationMs: 200 })
    const second = await call(h, '/_tripwire/captures', { method: 'POST', body: { durationMs: 50 } })
    await expectError(second, 409, ErrorCodes.BUSY)
    const retryAfter = Number(second.headers.get('retry-after'))
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `retry-after ${retryAfter}`)
    await waitStored(h, first.id)
  })

  test('status reports limits, counters and the running capture', async () => {
    const started = await startCapture(h, { durationMs: 100 })
    const response = await call(h, '/_tripwire/status', { token: READ })
    assert.equal(response.status, 200)
    const status = await json<{
      service: string
      current?: { id: string }
      limits: { capturesPerHour: number; capturesRemaining: number }
      counters: { started: number }
    }>(response)
    assert.equal(status.service, SERVICE)
    assert.equal(status.current?.id, started.id)
    assert.equal(status.limits.capturesPerHour, 100)
    assert.ok(status.limits.capturesRemaining < 100)
    assert.ok(status.counters.started >= 1)
    await waitStored(h, started.id)
  })
})

describe('rate limit', () => {
  let h: Harness
  before(async () => (h = await serve({ limits: { capturesPerHour: 1 } })))
  after(() => h.close())

  test('past the budget a capture is refused with 429 and retry-after', async () => {
    const first = await startCapture(h, { durationMs: 50 })
    await waitStored(h, first.id)
    const refused = await call(h, '/_tripwire/captures', { method: 'POST', body: { durationMs: 50 } })
    await expectError(refused, 429, ErrorCodes.RATE_LIMITED)
    assert.ok(Number(refused.headers.get('retry-after')) >= 1)
  })
})

describe('authentication', () => {
  let h: Harness
  before(async () => (h = await serve()))
  after(() => h.close())

  const cases: { name: string; token: string | null; method?: string; status: number; code: string }[] = [
    { name: 'no credentials', token: null, status: 401, code: ErrorCodes.UNAUTHORIZED },
    { name: 'a garbage bearer token', token: 'not-a-jwt', status: 401, code: ErrorCodes.UNAUTHORIZED },
    {
      name: 'an expired token',
      token: mint({ expiresInSec: -120 }),
      status: 401,
      code: ErrorCodes.UNAUTHORIZED,
    },
    {
      name: 'a token signed with another secret',
      token: mint({ secret: 'another-secret-that-is-also-32-bytes-long!' }),
      status: 401,
      code: ErrorCodes.UNAUTHORIZED,
    },
    {
      name: 'a token for another service',
      token: mint({ aud: 'billing' }),
      status: 401,
      code: ErrorCodes.UNAUTHORIZED,
    },
    { name: 'a read token on POST', token: READ, method: 'POST', status: 403, code: ErrorCodes.FORBIDDEN },
    { name: 'a write token on GET', token: WRITE, status: 403, code: ErrorCodes.FORBIDDEN },
    {
      name: 'a trigger token',
      token: mint({ scope: 'profiles:trigger' }),
      status: 403,
      code: ErrorCodes.FORBIDDEN,
    },
  ]
  for (const { name, token, method = 'GET', status, code } of cases) {
    test(`${name} → ${status}`, async () => {
      const response = await call(h, '/_tripwire/captures', {
        token,
        method,
        ...(method === 'POST' && { body: { durationMs: 50 } }),
      })
      await expectError(response, status, code)
      if (status === 401) assert.equal(response.headers.get('www-authenticate'), 'Bearer')
    })
  }

  test('a malformed Authorization header is refused quickly', async () => {
    const started = performance.now()
    const response = await call(h, '/_tripwire/status', {
      token: null,
      headers: { authorization: `Bearer ${'a'.repeat(64)} b` },
    })
    await expectError(response, 401, ErrorCodes.UNAUTHORIZED)
    assert.ok(performance.now() - started < 1000)
  })

  test('every path under the prefix needs credentials, even unknown ones', async () => {
    await expectError(await call(h, '/_tripwire/nope', { token: null }), 401, ErrorCodes.UNAUTHORIZED)
    await expectError(
      await call(h, `/_tripwire/captures/${ID}`, { token: null }),
      401,
      ErrorCodes.UNAUTHORIZED,
    )
  })

  test('an authorize hook (no keys) that allows reads only', async () => {
    const hooked = await serve({ admin: { authorize: (_req, action) => action === 'read' } }, false)
    try {
      assert.equal((await call(hooked, '/_tripwire/captures', { token: null })).status, 200)
      await expectError(
        await call(hooked, '/_tripwire/captures', { token: null, method: 'POST', body: {} }),
        403,
        ErrorCodes.FORBIDDEN,
      )
    } finally {
      await hooked.close()
    }
  })

  test('the hook allows with exactly true; a truthy non-true answer or a throw denies', async () => {
    for (const answer of ['no', { allowed: false }, 1]) {
      const hooked = await serve({ admin: { authorize: () => answer as unknown as boolean } }, false)
      try {
        await expectError(
          await call(hooked, '/_tripwire/captures', { token: null }),
          403,
          ErrorCodes.FORBIDDEN,
        )
      } finally {
        await hooked.close()
      }
    }
    const throwing = await serve(
      {
        admin: {
          authorize: () => {
            throw new Error('directory down')
          },
        },
      },
      false,
    )
    try {
      await expectError(
        await call(throwing, '/_tripwire/captures', { token: null }),
        403,
        ErrorCodes.FORBIDDEN,
      )
    } finally {
      await throwing.close()
    }
  })

  test('a refused token is told it was refused, not why (the reason goes to the log)', async () => {
    const wrongSecret = mint({ secret: 'x'.repeat(40) })
    const message = await expectError(
      await call(h, '/_tripwire/captures', { token: wrongSecret }),
      401,
      ErrorCodes.UNAUTHORIZED,
    )
    assert.doesNotMatch(message, /signature|kid|audience|aud\b/)
  })

  test('insecureNoAuth answers without credentials', async () => {
    const warnings: string[] = []
    const logger = { debug() {}, info() {}, warn: (message: string) => warnings.push(message), error() {} }
    const open = await serve({ admin: { insecureNoAuth: true }, logger }, false)
    try {
      assert.equal(warnings.length, 1)
      assert.match(warnings[0]!, /WITHOUT authentication/)
      assert.equal((await call(open, '/_tripwire/status', { token: null })).status, 200)
    } finally {
      await open.close()
    }
  })
})

describe('bad input', () => {
  let h: Harness
  let completed: CaptureMeta
  before(async () => {
    h = await serve()
    completed = await waitStored(h, (await startCapture(h, { durationMs: 50 })).id)
  })
  after(() => h.close())

  for (const id of [
    '..%2F..%2Fetc%2Fpasswd',
    '%2e%2e',
    `${ID}%2F..`,
    'x'.repeat(10_000),
    '%E0%A4%A',
    '..',
    `${ID.toUpperCase()}`,
  ]) {
    test(`the id ${id.slice(0, 40)} is a 400`, async () => {
      for (const [method, suffix] of [
        ['GET', ''],
        ['DELETE', ''],
        ['GET', '/profile'],
        ['GET', '/flamegraph'],
        ['POST', '/stop'],
        ['GET', '/../../status'],
      ] as const) {
        const response = await rawCall(h, method, `/_tripwire/captures/${id}${suffix}`)
        assert.equal(response.status, 400, `${method} …${suffix}: ${response.body}`)
      }
    })
  }

  test('a bad id is INVALID_ID; ../ is refused, not resolved', async () => {
    for (const path of ['..%2F..%2Fetc%2Fpasswd', '../', '%2e%2e', '../../status']) {
      const response = await rawCall(h, 'GET', `/_tripwire/captures/${path}`)
      assert.equal(codeOf(response.body), ErrorCodes.INVALID_ID, path)
    }
    const badEscape = await rawCall(h, 'GET', '/_tripwire/captures/%E0%A4%A')
    assert.equal(codeOf(badEscape.body), ErrorCodes.INVALID_REQUEST)
    // without credentials nothing is said about the path
    const anonymous = await rawCall(h, 'GET', '/_tripwire/captures/..%2F..%2Fetc%2Fpasswd', null)
    assert.equal(anonymous.status, 401)
  })

  const badBodies: { name: string; body: unknown; headers?: Record<string, string>; mentions?: RegExp }[] = [
    { name: 'malformed JSON', body: '{"durationMs": ', mentions: /JSON/ },
    { name: 'a JSON array', body: [1] },
    { name: 'an unknown field', body: { durationMs: 50, duration: 5 }, mentions: /"duration"/ },
    { name: 'durationMs 0', body: { durationMs: 0 }, mentions: /durationMs/ },
    { name: 'durationMs -1', body: { durationMs: -1 }, mentions: /durationMs/ },
    { name: "durationMs 'x'", body: { durationMs: 'x' }, mentions: /durationMs/ },
    { name: 'durationMs over the maximum', body: { durationMs: 30_001 }, mentions: /durationMs/ },
    { name: 'durationMs null', body: { durationMs: null }, mentions: /durationMs/ },
    { name: 'kind gpu', body: { kind: 'gpu' }, mentions: /kind/ },
    { name: 'an empty reason', body: { reason: '' }, mentions: /reason/ },
    { name: 'labels that are not strings', body: { labels: { a: 1 } }, mentions: /label/ },
    {
      name: 'a text/plain body',
      body: '{"durationMs": 50}',
      headers: { 'content-type': 'text/plain' },
      mentions: /application\/json/,
    },
  ]
  for (const { name, body, headers, mentions } of badBodies) {
    test(`POST /captures with ${name} → 400`, async () => {
      const response = await call(h, '/_tripwire/captures', {
        method: 'POST',
        body,
        ...(headers && { headers }),
      })
      const message = await expectError(response, 400, ErrorCodes.INVALID_REQUEST)
      if (mentions) assert.match(message, mentions)
    })
  }

  test('a body over admin.bodyLimitBytes → 413, connection closed', async () => {
    const body = JSON.stringify({ reason: 'x'.repeat(20 * 1024) })
    const response = await call(h, '/_tripwire/captures', { method: 'POST', body })
    await expectError(response, 413, ErrorCodes.BODY_TOO_LARGE)
    assert.equal(response.headers.get('connection'), 'close')
  })

  test('a chunked body over the limit → 413 without reading it all', async () => {
    const chunk = new TextEncoder().encode(' '.repeat(4096))
    let sent = 0
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        // far more than the limit: the server must answer without waiting for the end
        if (sent++ < 1000) controller.enqueue(chunk)
        else controller.close()
      },
    })
    const response = await fetch(`${h.base}/_tripwire/captures`, {
      method: 'POST',
      headers: { authorization: `Bearer ${BOTH}`, 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    })
    await expectError(response, 413, ErrorCodes.BODY_TOO_LARGE)
  })

  test('a POST without content-type: application/json is refused, so a cross-site form cannot start one', async () => {
    const before = h.controller.status().counters.started
    for (const headers of [
      {},
      { 'content-type': 'text/plain' },
      { 'content-type': 'application/x-www-form-urlencoded' },
    ]) {
      const response = await fetch(`${h.base}/_tripwire/captures`, {
        method: 'POST',
        headers: { ...headers, authorization: `Bearer ${BOTH}` },
      })
      assert.match(
        await expectError(response, 400, ErrorCodes.INVALID_REQUEST),
        /content-type: application\/json/,
      )
    }
    assert.equal(h.controller.status().counters.started, before)
  })

  test('a bodiless POST starts a default capture', async () => {
    const response = await call(h, '/_tripwire/captures', { method: 'POST' })
    const meta = await json<CaptureMeta>(response)
    assert.equal(response.status, 202)
    assert.equal(meta.trigger.reason, 'admin API')
    await call(h, `/_tripwire/captures/${meta.id}/stop`, { method: 'POST' })
  })

  test('profile formats: pprof is a gzipped protobuf to save as is, anything else 400', async () => {
    const pprof = await call(h, `/_tripwire/captures/${completed.id}/profile?format=pprof`)
    assert.equal(pprof.status, 200)
    assert.equal(pprof.headers.get('content-type'), 'application/octet-stream')
    assert.equal(pprof.headers.get('content-encoding'), null, 'the file is gzip; the transfer is not')
    assert.equal(pprof.headers.get('content-disposition'), `attachment; filename="${completed.id}.pb.gz"`)
    const gz = Buffer.from(await pprof.arrayBuffer())
    assert.equal(Number(pprof.headers.get('content-length')), gz.length)
    const decoded = Profile.decode(gunzipSync(gz))
    const types = decoded.sampleType.map((type) => decoded.stringTable.strings[Number(type.type)])
    assert.deepEqual(types, ['samples', 'cpu'])
    await expectError(
      await call(h, `/_tripwire/captures/${completed.id}/profile?format=zip`),
      400,
      ErrorCodes.INVALID_REQUEST,
    )
    const native = await call(h, `/_tripwire/captures/${completed.id}/profile?format=native`)
    assert.equal(native.status, 200)
    assert.equal((await native.arrayBuffer()).byteLength, completed.bytes)
  })

  for (const query of [
    'limit=0',
    'limit=101',
    'limit=abc',
    'limit=1.5',
    'cursor=../x',
    'kind=gpu',
    'trigger=cron',
  ]) {
    test(`GET /captures?${query} → 400`, async () => {
      const message = await expectError(
        await call(h, `/_tripwire/captures?${query}`),
        400,
        ErrorCodes.INVALID_REQUEST,
      )
      assert.match(message, new RegExp(query.split('=')[0]!))
    })
  }

  test('a wrong method on a known route → 405 with allow', async () => {
    const put = await call(h, '/_tripwire/captures', { method: 'PUT', body: {} })
    await expectError(put, 405, ErrorCodes.METHOD_NOT_ALLOWED)
    assert.equal(put.headers.get('allow'), 'GET, POST')
    const post = await call(h, '/_tripwire/status', { method: 'POST' })
    await expectError(post, 405, ErrorCodes.METHOD_NOT_ALLOWED)
    assert.equal(post.headers.get('allow'), 'GET')
    const del = await call(h, `/_tripwire/captures/${completed.id}/profile`, { method: 'DELETE' })
    assert.equal(del.headers.get('allow'), 'GET')
    await expectError(del, 405, ErrorCodes.METHOD_NOT_ALLOWED)
  })

  for (const path of [
    '/_tripwire',
    '/_tripwire/',
    '/_tripwire/nope',
    '/_tripwire/status/x',
    `/_tripwire/captures/${ID}/x`,
  ]) {
    test(`${path} → 404`, async () => {
      await expectError(await call(h, path), 404, ErrorCodes.NOT_FOUND)
    })
  }

  test('the flame-graph viewer: auth and id checks first, then a page with a strict CSP', async () => {
    await expectError(
      await call(h, `/_tripwire/captures/${ID}/flamegraph`, { token: null }),
      401,
      ErrorCodes.UNAUTHORIZED,
    )
    await expectError(await call(h, '/_tripwire/captures/x/flamegraph'), 400, ErrorCodes.INVALID_ID)
    const page = await call(h, `/_tripwire/captures/${completed.id}/flamegraph`)
    assert.equal(page.status, 200)
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/)
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'; script-src 'self'/)
    assert.match(await page.text(), /flamegraph\.js\?token=/)
  })
})

describe('captures that cannot be downloaded', () => {
  test('a failed capture is a 409 that carries its error', async () => {
    // no CPU profile fits in 1 KiB: the capture runs, then is stored as failed
    const h = await serve({ limits: { maxProfileBytes: 1024 } })
    try {
      const meta = await waitStored(h, (await startCapture(h, { durationMs: 1 })).id)
      assert.equal(meta.status, 'failed')
      assert.equal(meta.links, undefined)
      const message = await expectError(
        await call(h, `/_tripwire/captures/${meta.id}/profile`),
        409,
        ErrorCodes.CAPTURE_STATE,
      )
      assert.match(message, new RegExp(ErrorCodes.PROFILE_TOO_LARGE))
    } finally {
      await h.close()
    }
  })

  test('a body that fails midway cuts the connection instead of ending a short 200', async () => {
    const dir = await mkdtemp(join(root, 'broken-'))
    const disk = new LocalDiskSink({ dir })
    const broken: Sink = {
      put: (meta, body) => disk.put(meta, body),
      list: (query) => disk.list(query),
      delete: (id) => disk.delete(id),
      async get(id) {
        const stored = await disk.get(id)
        if (stored === undefined) return undefined
        stored.body.destroy()
        let sent = false
        const body = new Readable({
          read() {
            if (sent) this.destroy(new Error('disk read failed'))
            else this.push(Buffer.alloc(100, 'x'))
            sent = true
          },
        })
        return { meta: stored.meta, body }
      },
    }
    const errors: string[] = []
    const logger = { debug() {}, info() {}, warn() {}, error: (message: string) => errors.push(message) }
    const h = await serve({ sink: broken, logger })
    try {
      const meta = await waitStored(h, (await startCapture(h, { durationMs: 50 })).id)
      assert.ok(meta.bytes > 100)
      // the cut may come before or after the client has parsed the headers; either way it never sees an end
      await assert.rejects(async () => {
        const response = await call(h, `/_tripwire/captures/${meta.id}/profile`)
        assert.equal(response.status, 200)
        await response.arrayBuffer()
      }, /fetch failed|terminated|other side closed/)
      assert.ok(
        errors.some((message) => /download failed midway/.test(message)),
        errors.join('\n'),
      )
    } finally {
      await h.close()
    }
  })
})

describe('listing', () => {
  let h: Harness
  /** The admin captures, newest first. */
  let ids: string[]
  before(async () => {
    h = await serve()
    ids = []
    for (const kind of ['cpu', 'heap', 'cpu']) {
      ids.push((await waitStored(h, (await startCapture(h, { kind, durationMs: 50 })).id)).id)
    }
    // ids have second precision and random tails: within a second, "newest first" is id order
    ids.sort().reverse()
  })
  after(() => h.close())

  type Page = { items: CaptureMeta[]; nextCursor?: string }
  const idsOf = (page: Page) => page.items.map((item) => item.id)

  test('pages newest first, continuing from nextCursor', async () => {
    const first = await json<Page>(await call(h, '/_tripwire/captures?limit=2'))
    assert.deepEqual(idsOf(first), ids.slice(0, 2))
    assert.equal(first.nextCursor, ids[1])
    const second = await json<Page>(await call(h, `/_tripwire/captures?limit=2&cursor=${first.nextCursor}`))
    assert.deepEqual(idsOf(second), ids.slice(2))
    assert.equal(second.nextCursor, undefined)
    const all = await json<Page>(await call(h, '/_tripwire/captures'))
    assert.deepEqual(idsOf(all), ids)
  })

  test('kind filters in the sink, trigger across sink pages', async () => {
    const heap = ids.filter((id) => id.includes('-heap-'))
    assert.deepEqual(idsOf(await json<Page>(await call(h, '/_tripwire/captures?kind=heap'))), heap)
    const apiMeta = await (
      await h.controller.start({ durationMs: 50, trigger: { type: 'api', reason: 'not from the admin API' } })
    ).done
    assert.deepEqual(idsOf(await json<Page>(await call(h, '/_tripwire/captures?trigger=admin'))), ids)
    assert.deepEqual(idsOf(await json<Page>(await call(h, '/_tripwire/captures?trigger=api'))), [apiMeta.id])
    assert.deepEqual(idsOf(await json<Page>(await call(h, '/_tripwire/captures?trigger=api&kind=heap'))), [])
    const first = await json<Page>(await call(h, '/_tripwire/captures?limit=2&trigger=admin'))
    assert.deepEqual(idsOf(first), ids.slice(0, 2))
    assert.ok(first.nextCursor !== undefined)
    const rest = await json<Page>(
      await call(h, `/_tripwire/captures?limit=2&trigger=admin&cursor=${first.nextCursor}`),
    )
    assert.deepEqual(idsOf(rest), ids.slice(2))
    assert.equal(rest.nextCursor, undefined)
  })

  test('a running capture is listed first on the first page only, when it matches', async () => {
    const running = await startCapture(h, { durationMs: 150 })
    const first = await json<Page>(await call(h, '/_tripwire/captures?limit=1'))
    assert.deepEqual(
      first.items.map((item) => [item.id, item.status]),
      [[running.id, 'running']],
    )
    assert.equal(first.nextCursor, running.id)
    const next = await json<Page>(await call(h, `/_tripwire/captures?limit=1&cursor=${first.nextCursor}`))
    assert.notEqual(next.items[0]?.id, running.id)
    const heapOnly = await json<Page>(await call(h, '/_tripwire/captures?kind=heap'))
    assert.ok(heapOnly.items.every((item) => item.id !== running.id))
    await waitStored(h, running.id)
  })
})

describe('sinks that hand out direct download URLs', () => {
  test('the profile route answers 302 to the URL the sink gives, and streams when it gives none', async () => {
    const dir = await mkdtemp(join(root, 'direct-'))
    const disk = new LocalDiskSink({ dir })
    let direct: string | undefined = 'https://bucket.example.invalid/profile?X-Amz-Signature=abc'
    const sink: Sink = {
      put: (meta, body) => disk.put(meta, body),
      get: (id) => disk.get(id),
      list: (query) => disk.list(query),
      delete: (id) => disk.delete(id),
      downloadUrl: async () => direct,
      status: () => ({ pending: 0 }),
    }
    const h = await serve({ sink })
    try {
      const meta = await startCapture(h, { durationMs: 30 })
      await waitStored(h, meta.id)
      const redirected = await call(h, `/_tripwire/captures/${meta.id}/profile`)
      assert.equal(redirected.status, 302)
      assert.equal(redirected.headers.get('location'), direct)
      assert.equal(redirected.headers.get('cache-control'), 'no-store')
      direct = undefined
      const streamed = await call(h, `/_tripwire/captures/${meta.id}/profile`)
      assert.equal(streamed.status, 200)
      assert.equal((await streamed.arrayBuffer()).byteLength, (await waitStored(h, meta.id)).bytes)
      const status = await json<{ sink?: unknown }>(await call(h, '/_tripwire/status'))
      assert.deepEqual(status.sink, { pending: 0 })
    } finally {
      await h.close()
    }
  })
})
