import assert from 'node:assert/strict'
import { once } from 'node:events'
import * as nodeFs from 'node:fs/promises'
import { Agent, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join, relative, resolve, sep } from 'node:path'
import { Readable, Writable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import fc from 'fast-check'
import jwt from 'jsonwebtoken'
import { httpStatusForCode } from '../src/admin/error-status.js'
import { parseListQuery, LIST_LIMIT } from '../src/admin/list-captures.js'
import { CAPTURE_ID_PATTERN, createCaptureId } from '../src/capture-id.js'
import { CAPTURE_KINDS, captureFileName } from '../src/capture-kinds.js'
import { TRIGGER_TYPES } from '../src/capture-request.js'
import { createAdminHandler, type AdminHandler } from '../src/admin/admin-handler.js'
import { createTripwire, type TripwireController } from '../src/controller.js'
import { ErrorCodes, isTripwireError } from '../src/errors.js'
import { LocalDiskSink } from '../src/sinks/local-disk.js'
import { recordingFs } from './fixtures/recording-fs.js'
import { sendRaw, type RawAnswer } from './fixtures/raw-request.js'
import type { CaptureKind, CaptureMeta, Logger, TriggerType } from '../src/types.js'

const SECRET = 'the-admin-secret-of-at-least-32-bytes-long!'
const SERVICE = 'checkout'
const PREFIX = '/_tripwire'
/** Written into every file outside the sink's reach: it must never appear in an answer. */
const MARKER = 'SENTINEL-7c1e0d4b-never-served'
const ERROR_CODES = new Set<string>(Object.values(ErrorCodes))
const KINDS = Object.keys(CAPTURE_KINDS) as CaptureKind[]
const TRIGGERS = Object.keys(TRIGGER_TYPES) as TriggerType[]

const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000)
/** A stored CPU capture with a body that converts to pprof; downloads of it must be byte-for-byte. */
const STORED_ID = createCaptureId('cpu', minutesAgo(3))
/** A stored capture that failed: it has metadata and no profile. */
const FAILED_ID = createCaptureId('heap', minutesAgo(2))
/** A well-formed id whose files lie beside the sink directory, where only a path traversal could reach. */
const OUTSIDE_ID = createCaptureId('cpu', minutesAgo(1))
const STORED_BODY = Buffer.from(
  JSON.stringify({
    nodes: [
      {
        id: 1,
        callFrame: { functionName: '(root)', scriptId: '0', url: '', lineNumber: -1, columnNumber: -1 },
        hitCount: 0,
        children: [2],
      },
      {
        id: 2,
        callFrame: {
          functionName: 'checkout',
          scriptId: '1',
          url: 'file:///srv/app.js',
          lineNumber: 4,
          columnNumber: 2,
        },
        hitCount: 3,
      },
    ],
    startTime: 0,
    endTime: 3000,
    samples: [2, 2, 2],
    timeDeltas: [1000, 1000, 1000],
  }),
)

function metaFor(id: string, kind: CaptureKind, status: 'completed' | 'failed', body: Buffer): CaptureMeta {
  return {
    id,
    kind,
    status,
    trigger: { type: status === 'failed' ? 'slo' : 'admin', reason: 'fuzz fixture' },
    requested: { durationMs: 1000, mode: 'window' },
    startedAt: new Date().toISOString(),
    endedAt: new Date().toISOString(),
    durationMs: 1000,
    bytes: body.length,
    sha256: '0'.repeat(64),
    contentType: CAPTURE_KINDS[kind].contentType,
    fileName: captureFileName(id, kind),
    host: 'fuzz',
    pid: process.pid,
    service: SERVICE,
    version: '0.0.0',
    runtime: { node: process.versions.node, v8: process.versions.v8 },
    labels: {},
    ...(status === 'failed' && { error: { code: ErrorCodes.INSPECTOR_FAILED, message: 'fixture' } }),
  }
}

function mint(scope: string, { secret = SECRET, aud = SERVICE, expiresInSec = 600, iatAgoSec = 0 } = {}) {
  const now = Math.floor(Date.now() / 1000)
  return jwt.sign({ scope, aud, sub: 'fuzz', iat: now - iatAgoSec, exp: now + expiresInSec }, secret, {
    algorithm: 'HS256',
    keyid: 'k1',
  })
}

type Action = 'read' | 'write'
/** What an Authorization header may do: allow some actions, and how it is refused for the others. */
interface Credential {
  name: string
  authorization: string | undefined
  grants: readonly Action[]
  /** 403 for a genuine token without the scope; 401 for everything that does not verify. */
  refusal: 401 | 403
}

const bearer = (token: string) => `Bearer ${token}`
const CREDENTIALS: readonly Credential[] = [
  { name: 'read', authorization: bearer(mint('profiles:read')), grants: ['read'], refusal: 403 },
  { name: 'write', authorization: bearer(mint('profiles:write')), grants: ['write'], refusal: 403 },
  {
    name: 'read and write',
    authorization: `bearer   ${mint('other profiles:write profiles:read')}`,
    grants: ['read', 'write'],
    refusal: 403,
  },
  { name: 'trigger scope', authorization: bearer(mint('profiles:trigger')), grants: [], refusal: 403 },
  {
    name: 'expired',
    authorization: bearer(mint('profiles:read profiles:write', { expiresInSec: -120, iatAgoSec: 300 })),
    grants: [],
    refusal: 401,
  },
  {
    name: 'other secret',
    authorization: bearer(mint('profiles:read profiles:write', { secret: `${SECRET}-not` })),
    grants: [],
    refusal: 401,
  },
  {
    name: 'other audience',
    authorization: bearer(mint('profiles:read profiles:write', { aud: 'billing' })),
    grants: [],
    refusal: 401,
  },
  {
    name: 'longer-lived than admin.maxTokenTtlSec',
    authorization: bearer(mint('profiles:read profiles:write', { expiresInSec: 7200 })),
    grants: [],
    refusal: 401,
  },
  {
    name: 'alg none',
    authorization: bearer(
      `${Buffer.from('{"alg":"none","kid":"k1"}').toString('base64url')}.${mint('profiles:read').split('.')[1]}.`,
    ),
    grants: [],
    refusal: 401,
  },
  {
    name: 'a valid token with trailing text',
    authorization: `${bearer(mint('profiles:read profiles:write'))} extra`,
    grants: [],
    refusal: 401,
  },
  { name: 'basic', authorization: 'Basic YWRtaW46YWRtaW4=', grants: [], refusal: 401 },
]

/** Header values an HTTP client can send: visible ASCII, space and tab. */
const headerText = (maxLength: number) =>
  fc.string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
    maxLength,
  })

const anyCredential: fc.Arbitrary<Credential> = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom(...CREDENTIALS.slice(0, 3)) },
  { weight: 3, arbitrary: fc.constantFrom(...CREDENTIALS.slice(3)) },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        headerText(60),
        headerText(60).map((text) => `Bearer ${text}`),
      )
      .map((authorization): Credential => ({ name: 'garbage', authorization, grants: [], refusal: 401 })),
  },
  {
    weight: 2,
    arbitrary: fc.constant<Credential>({ name: 'none', authorization: undefined, grants: [], refusal: 401 }),
  },
)

// ---------------------------------------------------------------------------------------------------------
// The sink, its surroundings, and the server

let root: string
let sinkDir: string
/** Every path the sink's file system was asked about. */
const touched: string[] = []
const errorsLogged: string[] = []
let sink: LocalDiskSink
let controller: TripwireController
let handler: AdminHandler
let server: Server
let port: number
const agent = new Agent({ keepAlive: true, maxSockets: 4 })
/** The `?token=` of a link handed out for STORED_ID. */
let linkToken: string
const SENTINELS: Record<string, string> = {}

const recordingLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: (message, fields) => errorsLogged.push(`${message} ${JSON.stringify(fields)}`),
}

async function storeFixtures(sink: LocalDiskSink): Promise<void> {
  if ((await sink.getMeta(STORED_ID)) === undefined) {
    await sink.put(metaFor(STORED_ID, 'cpu', 'completed', STORED_BODY), STORED_BODY)
  }
  if ((await sink.getMeta(FAILED_ID)) === undefined) {
    await sink.put(metaFor(FAILED_ID, 'heap', 'failed', Buffer.alloc(0)), Buffer.alloc(0))
  }
}

before(async () => {
  root = await nodeFs.mkdtemp(join(tmpdir(), 'tripwire-fuzz-admin-'))
  sinkDir = join(root, 'profiles')
  // beside the sink: files that a traversal would find, named as the sink would name them
  for (const name of ['secret.txt', `${OUTSIDE_ID}.json`, captureFileName(OUTSIDE_ID, 'cpu')]) {
    SENTINELS[join(root, name)] = `${MARKER} ${name}`
  }
  // inside it: a file the sink does not own, which it must neither serve nor delete
  SENTINELS[join(sinkDir, 'notes.txt')] = `${MARKER} notes`
  await nodeFs.mkdir(sinkDir, { mode: 0o700 })
  for (const [path, content] of Object.entries(SENTINELS)) await nodeFs.writeFile(path, content)

  sink = new LocalDiskSink({ dir: sinkDir, fs: recordingFs(touched) })
  await storeFixtures(sink)
  controller = createTripwire({
    service: SERVICE,
    keys: [{ kid: 'k1', secret: SECRET }],
    sink,
    logger: recordingLogger,
    limits: { cooldownMs: 0, capturesPerHour: 3600 },
  })
  handler = createAdminHandler(controller)
  server = createServer((req, res) => {
    void handler(req, res).then((handled) => {
      if (!handled) res.writeHead(200, { 'x-app': 'yes' }).end('app')
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  port = (server.address() as AddressInfo).port

  const answer = await send({
    method: 'GET',
    path: `${PREFIX}/captures/${STORED_ID}`,
    authorization: CREDENTIALS[0]!.authorization,
  })
  assert.equal(answer.status, 200, answer.body.toString())
  const { links } = JSON.parse(answer.body.toString()) as { links: { profile: string } }
  linkToken = new URL(links.profile, 'http://link.invalid').searchParams.get('token')!
  assert.ok(linkToken)
})

after(async () => {
  agent.destroy()
  server.closeAllConnections()
  await new Promise<void>((done) => server.close(() => done()))
  await controller.close()
  await nodeFs.rm(root, { recursive: true, force: true })
})

interface Probe {
  method: string
  path: string
  authorization?: string | undefined
  contentType?: string | undefined
  body?: string | undefined
}
type Answer = RawAnswer

/** One request, sent exactly as written. */
function send(probe: Probe): Promise<Answer> {
  const headers: Record<string, string> = {}
  if (probe.authorization !== undefined) headers.authorization = probe.authorization
  if (probe.contentType !== undefined) headers['content-type'] = probe.contentType
  if (probe.body !== undefined) headers['content-length'] = String(Buffer.byteLength(probe.body))
  return sendRaw({ port, agent, method: probe.method, path: probe.path, headers, body: probe.body })
}

/** Asserts the shape every refusal has: JSON `{ error: { code, message } }` under the status its code maps to. */
function assertErrorAnswer(answer: Answer, method: string, context: string): string | undefined {
  assert.ok(answer.status >= 400 && answer.status < 500, `${answer.status} for ${context}`)
  assert.equal(answer.headers['content-type'], 'application/json; charset=utf-8', context)
  assert.equal(answer.headers['cache-control'], 'no-store', context)
  // a HEAD answer has the headers of the error, not its body
  if (method === 'HEAD') return undefined
  const parsed = JSON.parse(answer.body.toString('utf8')) as Record<string, unknown>
  assert.deepEqual(Object.keys(parsed), ['error'], context)
  const error = parsed.error as Record<string, unknown>
  assert.deepEqual(Object.keys(error).sort(), ['code', 'message'], context)
  assert.equal(typeof error.code, 'string')
  assert.ok(ERROR_CODES.has(error.code as string), `unknown code ${String(error.code)} for ${context}`)
  assert.equal(typeof error.message, 'string')
  assert.ok((error.message as string).length > 0)
  assert.equal(httpStatusForCode(error.code as string), answer.status, context)
  return error.code as string
}

/** Decoded segments after the prefix, `undefined` for a malformed escape, `null` when not under the prefix. */
function segmentsUnderPrefix(target: string): string[] | undefined | null {
  const path = target.split(/[?#]/, 1)[0]!
  if (path !== PREFIX && !path.startsWith(`${PREFIX}/`)) return null
  if (path === PREFIX) return []
  try {
    return path
      .slice(PREFIX.length + 1)
      .split('/')
      .map((segment) => decodeURIComponent(segment))
  } catch {
    return undefined
  }
}

/** The first `token` query parameter, as the server reads it. */
function queryToken(target: string): string | null {
  const query = /\?([^#]*)/.exec(target)?.[1]
  return query === undefined ? null : new URLSearchParams(query).get('token')
}

/** The route decoded segments name, read from the documented routes; `undefined` for anything else. */
function documentedRoute(segments: string[] | undefined | null): string | undefined {
  if (segments === undefined || segments === null) return undefined
  const [first, id, sub, asset, ...rest] = segments
  if (rest.length > 0) return undefined
  if (first === 'status' && id === undefined) return 'status'
  if (first !== 'captures') return undefined
  if (id === undefined) return 'captures'
  if (!CAPTURE_ID_PATTERN.test(id)) return undefined
  if (sub === undefined) return 'capture'
  if (asset === undefined) return ['stop', 'profile', 'flamegraph'].includes(sub) ? sub : undefined
  return sub === 'flamegraph' && ['flamegraph.js', 'flamegraph.css'].includes(asset)
    ? 'viewer asset'
    : undefined
}

/** Whether a link for STORED_ID opens this request: a read of that capture's profile or viewer. */
function linkOpens(method: string, segments: string[] | undefined | null): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false
  if (segments === undefined || segments === null) return false
  const [captures, id, sub, asset, ...rest] = segments
  if (captures !== 'captures' || id !== STORED_ID || rest.length > 0) return false
  if (sub === 'profile') return asset === undefined
  return (
    sub === 'flamegraph' && (asset === undefined || asset === 'flamegraph.js' || asset === 'flamegraph.css')
  )
}

async function assertSurroundingsIntact(): Promise<void> {
  for (const [path, content] of Object.entries(SENTINELS)) {
    assert.equal(await nodeFs.readFile(path, 'utf8'), content, `${path} was changed or removed`)
  }
  for (const path of touched.splice(0)) {
    const inside = relative(sinkDir, resolve(path))
    assert.ok(
      inside === '' || (!inside.startsWith('..') && !inside.includes(sep)),
      `the sink touched ${path}`,
    )
  }
  assert.deepEqual(errorsLogged.splice(0), [], 'the admin API logged a failure')
}

// ---------------------------------------------------------------------------------------------------------
// Generators of request targets

/**
 * Any code point, lone surrogates included, mostly ASCII. Cheaper to start than fast-check's 'binary' unit,
 * which spends seconds on its first use.
 */
const anyCodePoint = fc
  .oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0, max: 0x10ffff }))
  .map((code) => String.fromCodePoint(code))

const printable = (maxLength: number) =>
  fc.string({
    unit: fc.integer({ min: 0x21, max: 0x7e }).map((code) => String.fromCharCode(code)),
    maxLength,
  })
const validId = fc
  .tuple(
    fc.constantFrom(...KINDS),
    fc.date({ min: new Date('2000-01-01'), max: new Date('2099-12-31'), noInvalidDate: true }),
  )
  .map(([kind, at]) => createCaptureId(kind, at))

const segment = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.constantFrom('status', 'captures', STORED_ID, FAILED_ID, 'profile', 'flamegraph', 'stop'),
  },
  { weight: 2, arbitrary: fc.constantFrom(OUTSIDE_ID, 'flamegraph.js', 'flamegraph.css', '', '.', '..') },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      '%2e%2e',
      '%2E%2e',
      '.%2e',
      '..%2f..',
      '..%2F..%2Fsecret.txt',
      `..%2F${OUTSIDE_ID}`,
      `%2e%2e%5c${OUTSIDE_ID}`,
      '%2f',
      '%5c',
      '%00',
      `${STORED_ID}%00`,
      `${STORED_ID}.json`,
      `${STORED_ID}%2F..%2F..%2Fsecret.txt`,
      `${STORED_ID}%0a`,
      '%',
      '%zz',
      '%E0%A4%A',
      '%C0%AE%C0%AE',
      '%ED%A0%80',
      'notes.txt',
      '__proto__',
      'constructor',
    ),
  },
  { weight: 2, arbitrary: validId },
  { weight: 3, arbitrary: printable(24) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }).map(encodeURIComponent) },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 6000 }).map((length) => 'a'.repeat(length)) },
)

const queryPair = fc.tuple(
  fc.oneof(fc.constantFrom('limit', 'cursor', 'kind', 'trigger', 'format'), printable(8)),
  fc.oneof(
    fc.constantFrom(
      '1',
      '100',
      '101',
      '0',
      '-1',
      'native',
      'pprof',
      'cpu',
      'heap',
      'admin',
      STORED_ID,
      '',
      '%',
      '%zz',
    ),
    printable(20),
    fc.string({ unit: 'grapheme', maxLength: 10 }).map(encodeURIComponent),
  ),
)

const requestTarget = fc
  .record({
    prefix: fc.oneof(
      { weight: 12, arbitrary: fc.constant(PREFIX) },
      {
        weight: 2,
        arbitrary: fc.constantFrom(
          `${PREFIX}/`,
          `/${PREFIX}`,
          `${PREFIX}x`,
          '/_TRIPWIRE',
          `/x${PREFIX}`,
          `${PREFIX}_`,
          `${PREFIX}%2f`,
          `${PREFIX};v=1`,
          '/',
          '',
        ),
      },
    ),
    segments: fc.oneof(
      { weight: 3, arbitrary: fc.array(segment, { maxLength: 5 }) },
      // real routes, so that authorized requests get past routing to the sink
      {
        weight: 3,
        arbitrary: fc.constantFrom<string[]>(
          ['status'],
          ['captures'],
          ['captures', STORED_ID],
          ['captures', STORED_ID, 'profile'],
          ['captures', STORED_ID, 'flamegraph'],
          ['captures', STORED_ID, 'flamegraph', 'flamegraph.js'],
          ['captures', STORED_ID, 'stop'],
          ['captures', FAILED_ID],
          ['captures', FAILED_ID, 'profile'],
          ['captures', OUTSIDE_ID, 'profile'],
          ['captures', '..', 'profile'],
          ['captures', '%2e%2e', 'secret.txt'],
          ['captures', `..%2F${OUTSIDE_ID}`, 'profile'],
          ['captures', `${STORED_ID}%00`],
          ['captures', '..', 'status'],
          ['captures', '%2e%2e', 'captures'],
          ['status', '..', 'captures'],
          ['captures', '..', 'flamegraph', 'flamegraph.js'],
          ['captures', '%2E%2E', 'flamegraph', 'flamegraph.css'],
        ),
      },
    ),
    query: fc.option(
      fc.oneof(
        fc.array(queryPair, { maxLength: 4 }).map((pairs) => pairs.map((pair) => pair.join('=')).join('&')),
        printable(40),
      ),
      { nil: undefined },
    ),
    fragment: fc.option(printable(10), { nil: undefined }),
  })
  .map(({ prefix, segments, query, fragment }) => {
    const path = `${prefix}${segments.map((part) => `/${part}`).join('')}` || '/'
    return `${path}${query === undefined ? '' : `?${query}`}${fragment === undefined ? '' : `#${fragment}`}`
  })

/** Adds the link token for STORED_ID, or something in its place, as the first `token` parameter. */
const withLink = (target: string, token: string) => {
  const hash = target.indexOf('#')
  const [head, fragment] = hash < 0 ? [target, ''] : [target.slice(0, hash), target.slice(hash)]
  const query = head.indexOf('?')
  return query < 0
    ? `${head}?token=${token}${fragment}`
    : `${head.slice(0, query + 1)}token=${token}&${head.slice(query + 1)}${fragment}`
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const

const probe = fc
  .record({
    method: fc.oneof(
      { weight: 4, arbitrary: fc.constant('GET') },
      { weight: 3, arbitrary: fc.constantFrom('POST', 'DELETE') },
      { weight: 2, arbitrary: fc.constantFrom(...METHODS) },
    ),
    target: requestTarget,
    credential: anyCredential,
    link: fc.oneof(
      { weight: 5, arbitrary: fc.constant<'none' | 'real' | 'garbage'>('none') },
      { weight: 2, arbitrary: fc.constant<'none' | 'real' | 'garbage'>('real') },
      { weight: 1, arbitrary: fc.constant<'none' | 'real' | 'garbage'>('garbage') },
    ),
    garbageLink: printable(40).map(encodeURIComponent),
    contentType: fc.option(
      fc.constantFrom(
        'application/json',
        'application/json; charset=utf-8',
        'APPLICATION/JSON',
        'text/plain',
        '',
      ),
      { nil: undefined },
    ),
    body: fc.option(
      fc.oneof(
        fc.constantFrom(
          '',
          '{}',
          '{"durationMs":50}',
          '{"kind":"heap","durationMs":50}',
          '{"kind":"heapsnapshot"}',
        ),
        fc.constantFrom('[1]', '{"durationMs":0}', '{"reason":""}', '{"durationMs":', 'null', '"x"'),
        fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify(value) ?? 'null'),
        headerText(200),
      ),
      { nil: undefined },
    ),
  })
  .map(({ method, target, credential, link, garbageLink, contentType, body }) => ({
    method,
    target: link === 'none' ? target : withLink(target, link === 'real' ? linkToken : garbageLink),
    credential,
    contentType,
    // bodies ride on the methods that carry them
    body: method === 'GET' || method === 'HEAD' ? undefined : body,
  }))

// ---------------------------------------------------------------------------------------------------------

describe('the admin API over HTTP, under arbitrary requests', () => {
  test('answers are JSON errors or authorized successes, never 5xx; nothing outside the sink is touched', async () => {
    const seen = { fellThrough: 0, unauthorized: 0, forbidden: 0, succeeded: 0, invalid: 0, notFound: 0 }
    await fc.assert(
      fc.asyncProperty(probe, async ({ method, target, credential, contentType, body }) => {
        const answer = await send({
          method,
          path: target,
          authorization: credential.authorization,
          contentType,
          body,
        })
        const context = `${method} ${target.slice(0, 300)} (${credential.name})`
        assert.ok(!answer.body.includes(MARKER), `a file outside the sink was served for ${context}`)
        const segments = segmentsUnderPrefix(target)

        if (segments === null) {
          seen.fellThrough++
          assert.equal(
            answer.headers['x-app'],
            'yes',
            `${context} is not under the prefix and must reach the app`,
          )
          return
        }
        assert.equal(
          answer.headers['x-app'],
          undefined,
          `${context} is under the prefix and must not reach the app`,
        )
        const action: Action = method === 'GET' || method === 'HEAD' ? 'read' : 'write'
        const token = queryToken(target)
        const byHeader = credential.authorization !== undefined && credential.grants.includes(action)
        const byLink =
          credential.authorization === undefined && token === linkToken && linkOpens(method, segments)

        if (answer.status >= 200 && answer.status < 300) {
          seen.succeeded++
          assert.ok(byHeader || byLink, `${answer.status} without credentials for it: ${context}`)
          assert.ok([200, 202, 204].includes(answer.status), `${answer.status} for ${context}`)
          assert.ok(
            documentedRoute(segments) !== undefined,
            `${answer.status} off the documented routes: ${context}`,
          )
          if (answer.status === 202) {
            // a capture was started by an authorized POST: end it so that the next run finds the process idle
            const { id } = JSON.parse(answer.body.toString()) as { id: string }
            await controller.stop(id).catch((error: unknown) => assert.ok(isTripwireError(error)))
            await controller.find(id)
          }
        } else {
          const code = assertErrorAnswer(answer, method, context)
          if (answer.status === 401) seen.unauthorized++
          if (answer.status === 403) seen.forbidden++
          if (answer.status === 404) seen.notFound++
          if (code === ErrorCodes.INVALID_ID) seen.invalid++
          if (credential.authorization === undefined && token === null) {
            assert.equal(answer.status, 401, `no credentials, yet ${answer.status}: ${context}`)
            assert.equal(answer.headers['www-authenticate'], 'Bearer')
          }
          if (credential.authorization !== undefined && !byHeader) {
            assert.equal(answer.status, credential.refusal, context)
          }
        }

        for (const id of [STORED_ID, FAILED_ID]) {
          if ((await sink.getMeta(id)) !== undefined) continue
          // only an authorized DELETE of that very capture may remove it, and then all of it
          assert.equal(answer.status, 204, `${id} disappeared after ${context}`)
          assert.ok(byHeader && method === 'DELETE' && segments?.[1] === id, context)
          assert.deepEqual(
            (await nodeFs.readdir(sinkDir)).filter((name) => name.startsWith(id)),
            [],
          )
        }
        await storeFixtures(sink)
        await assertSurroundingsIntact()
      }),
      { numRuns: 500 },
    )
    // the generators must reach every layer, not only the authentication in front
    for (const [outcome, count] of Object.entries(seen)) {
      assert.ok(count > 0, `no request ended as ${outcome}: ${JSON.stringify(seen)}`)
    }
  })

  test('list queries: valid ones give a matching page, anything out of shape a 400', async () => {
    type Param = 'limit' | 'cursor' | 'kind' | 'trigger'
    const valid: Record<Param, fc.Arbitrary<string>> = {
      limit: fc.integer({ min: 1, max: LIST_LIMIT.max }).map(String),
      cursor: fc.oneof(fc.constantFrom(STORED_ID, FAILED_ID), validId),
      kind: fc.constantFrom(...KINDS),
      trigger: fc.constantFrom(...TRIGGERS),
    }
    const anyText = fc.oneof(printable(12), fc.string({ unit: 'grapheme', maxLength: 8 }))
    const prototypeNames = fc.constantFrom(
      '__proto__',
      'constructor',
      'toString',
      'hasOwnProperty',
      'valueOf',
    )
    const invalid: Record<Param, fc.Arbitrary<string>> = {
      limit: fc.oneof(
        fc.constantFrom(
          '0',
          '101',
          '-1',
          '1.5',
          '1e1',
          ' 5',
          '5 ',
          '',
          '0x10',
          '+5',
          '٣',
          'NaN',
          'Infinity',
          '99999',
        ),
        anyText.filter((text) => !/^\d+$/.test(text) || Number(text) < 1 || Number(text) > LIST_LIMIT.max),
        // just past the range: where an off-by-one or a forgotten bound shows
        fc.integer({ min: LIST_LIMIT.max + 1, max: 9999 }).map(String),
      ),
      cursor: fc.oneof(
        fc.constantFrom('', `${STORED_ID}/..`, STORED_ID.toUpperCase(), `../${STORED_ID}`, `${STORED_ID}\n`),
        anyText.filter((text) => !CAPTURE_ID_PATTERN.test(text)),
      ),
      kind: fc.oneof(
        prototypeNames,
        fc.constantFrom('CPU', ' cpu', ''),
        anyText.filter((text) => !KINDS.includes(text as CaptureKind)),
      ),
      trigger: fc.oneof(
        prototypeNames,
        fc.constantFrom('Admin', 'admin '),
        anyText.filter((text) => !TRIGGERS.includes(text as TriggerType)),
      ),
    }
    // repeated parameters are all valid or all invalid, so the property holds whichever occurrence is read
    const param = (name: Param) =>
      fc.oneof(
        { weight: 2, arbitrary: fc.constant({ ok: true, values: [] as string[] }) },
        {
          weight: 2,
          arbitrary: fc
            .array(valid[name], { minLength: 1, maxLength: 2 })
            .map((values) => ({ ok: true, values })),
        },
        {
          weight: 1,
          arbitrary: fc
            .array(invalid[name], { minLength: 1, maxLength: 2 })
            .map((values) => ({ ok: false, values })),
        },
      )
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          limit: param('limit'),
          cursor: param('cursor'),
          kind: param('kind'),
          trigger: param('trigger'),
        }),
        fc.nat(),
        async (params, rotation) => {
          const pairs = Object.entries(params).flatMap(([name, { values }]) =>
            values.map((value) => `${name}=${encodeURIComponent(value)}`),
          )
          const shift = pairs.length === 0 ? 0 : rotation % pairs.length
          const query = [...pairs.slice(shift), ...pairs.slice(0, shift)].join('&')
          const target = `${PREFIX}/captures${query === '' ? '' : `?${query}`}`
          const answer = await send({
            method: 'GET',
            path: target,
            authorization: CREDENTIALS[0]!.authorization,
          })
          // a parameter given twice is refused, like one out of shape: neither is silently ignored
          const allValid = Object.values(params).every(({ ok, values }) => ok && values.length <= 1)
          if (!allValid) {
            assert.equal(assertErrorAnswer(answer, 'GET', target), ErrorCodes.INVALID_REQUEST, target)
            return
          }
          assert.equal(answer.status, 200, `${target}: ${answer.body.toString()}`)
          const page = JSON.parse(answer.body.toString()) as { items: CaptureMeta[]; nextCursor?: string }
          const limits = params.limit.values.map(Number)
          assert.ok(page.items.length <= (limits.length > 0 ? Math.max(...limits) : LIST_LIMIT.default))
          for (const item of page.items) {
            if (params.kind.values.length > 0) assert.ok(params.kind.values.includes(item.kind), target)
            if (params.trigger.values.length > 0)
              assert.ok(params.trigger.values.includes(item.trigger.type), target)
            if (params.cursor.values.length > 0)
              assert.ok(
                params.cursor.values.some((cursor) => item.id < cursor),
                target,
              )
          }
          if (page.nextCursor !== undefined) assert.match(page.nextCursor, CAPTURE_ID_PATTERN)
          await assertSurroundingsIntact()
        },
      ),
      { numRuns: 200 },
    )
  })

  test('parseListQuery returns a query in range or throws INVALID_REQUEST, whatever the parameters', () => {
    const names = fc.oneof(fc.constantFrom('limit', 'cursor', 'kind', 'trigger'), fc.string({ maxLength: 6 }))
    fc.assert(
      fc.property(
        fc.array(fc.tuple(names, fc.string({ unit: anyCodePoint, maxLength: 30 })), { maxLength: 8 }),
        (pairs) => {
          let query
          try {
            query = parseListQuery(new URLSearchParams(pairs))
          } catch (error) {
            assert.ok(isTripwireError(error) && error.code === ErrorCodes.INVALID_REQUEST, String(error))
            assert.ok(error.message.length < 400, 'the message must not echo a long input')
            return
          }
          assert.ok(Number.isInteger(query.limit) && query.limit >= 1 && query.limit <= LIST_LIMIT.max)
          if (query.cursor !== undefined) assert.match(query.cursor, CAPTURE_ID_PATTERN)
          if (query.kind !== undefined) assert.ok(KINDS.includes(query.kind))
          if (query.trigger !== undefined) assert.ok(TRIGGERS.includes(query.trigger))
        },
      ),
      { numRuns: 500 },
    )
  })

  test('the download format: native is the stored bytes, pprof a gzip, anything else a 400', async () => {
    const format = fc.oneof(
      fc.constantFrom(
        { ok: 'native' as const, values: ['native'] },
        { ok: 'native' as const, values: [] as string[] },
      ),
      fc.constant({ ok: 'pprof' as const, values: ['pprof'] }),
      fc
        .array(
          fc.oneof(
            fc.constantFrom(
              'NATIVE',
              'Pprof',
              'pprof ',
              ' native',
              '',
              'json',
              'pb',
              'native\0',
              '__proto__',
            ),
            fc
              .string({ unit: 'grapheme', maxLength: 12 })
              .filter((text) => text !== 'native' && text !== 'pprof'),
          ),
          { minLength: 1, maxLength: 2 },
        )
        .map((values) => ({ ok: false as const, values })),
    )
    await fc.assert(
      fc.asyncProperty(format, fc.boolean(), async ({ ok, values }, throughLink) => {
        const query = [
          ...values.map((value) => `format=${encodeURIComponent(value)}`),
          ...(throughLink ? [`token=${linkToken}`] : []),
        ].join('&')
        const target = `${PREFIX}/captures/${STORED_ID}/profile${query === '' ? '' : `?${query}`}`
        const answer = await send({
          method: 'GET',
          path: target,
          authorization: throughLink ? undefined : CREDENTIALS[0]!.authorization,
        })
        if (ok === false) {
          assert.equal(assertErrorAnswer(answer, 'GET', target), ErrorCodes.INVALID_REQUEST)
          return
        }
        assert.equal(answer.status, 200, `${target}: ${answer.body.toString()}`)
        if (ok === 'native') {
          assert.deepEqual(answer.body, STORED_BODY)
          assert.equal(answer.headers['content-length'], String(STORED_BODY.length))
        } else {
          assert.deepEqual([...answer.body.subarray(0, 2)], [0x1f, 0x8b])
          assert.equal(answer.headers['content-disposition'], `attachment; filename="${STORED_ID}.pb.gz"`)
        }
      }),
      { numRuns: 100 },
    )
  })
})

// ---------------------------------------------------------------------------------------------------------

/** A response that keeps what it is sent, for URLs no HTTP parser would pass on but a framework might. */
class RecordedResponse extends Writable {
  statusCode = 0
  headersSent = false
  readonly headers: Record<string, unknown> = {}
  readonly chunks: Buffer[] = []

  writeHead(status: number, headers: Record<string, unknown> = {}): this {
    assert.equal(this.headersSent, false, 'writeHead twice')
    this.statusCode = status
    for (const [name, value] of Object.entries(headers)) this.headers[name.toLowerCase()] = value
    this.headersSent = true
    return this
  }

  setHeader(name: string, value: unknown): this {
    assert.equal(this.headersSent, false, 'setHeader after the head was sent')
    this.headers[name.toLowerCase()] = value
    return this
  }

  getHeader(name: string): unknown {
    return this.headers[name.toLowerCase()]
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.chunks.push(Buffer.from(chunk))
    callback()
  }
}

describe('the admin handler in memory, under request targets no HTTP parser would let through', () => {
  test('any req.url and method: never rejects, answers fully or not at all, never 5xx', async () => {
    const url = fc.oneof(
      fc.string({ unit: anyCodePoint, maxLength: 80 }).map((rest) => `${PREFIX}/${rest}`),
      fc.string({ unit: anyCodePoint, maxLength: 80 }).map((rest) => `${PREFIX}/captures/${rest}`),
      fc
        .string({ unit: anyCodePoint, maxLength: 20 })
        .map((rest) => `${PREFIX}/captures/${STORED_ID}${rest}`),
      fc
        .string({ unit: anyCodePoint, maxLength: 20 })
        .map((rest) => `${PREFIX}/captures/${STORED_ID}/profile${rest}`),
      fc.string({ unit: anyCodePoint, maxLength: 80 }),
      fc.constant(undefined),
    )
    const method = fc.oneof(fc.constantFrom('GET', 'HEAD', 'DELETE', 'get', ''), fc.string({ maxLength: 8 }))
    const readOnly = fc.constantFrom(CREDENTIALS[0]!, ...CREDENTIALS.slice(3), {
      name: 'none',
      authorization: undefined,
      grants: [],
      refusal: 401 as const,
    })
    await fc.assert(
      fc.asyncProperty(url, method, readOnly, async (target, verb, { authorization, grants }) => {
        const req = Object.assign(Readable.from([]), {
          url: target,
          method: verb,
          headers: authorization === undefined ? {} : { authorization },
          rawHeaders: authorization === undefined ? [] : ['Authorization', authorization],
        })
        const res = new RecordedResponse()
        const handled = await handler(req as unknown as IncomingMessage, res as unknown as ServerResponse)
        const context = `${JSON.stringify(verb)} ${JSON.stringify(target)}`
        if (!handled) {
          assert.equal(res.headersSent, false, `${context} was declined after answering`)
          assert.equal(res.chunks.length, 0)
          assert.ok(target === undefined || segmentsUnderPrefix(target) === null, context)
          return
        }
        if (!res.writableFinished) await once(res, 'finish')
        const body = Buffer.concat(res.chunks)
        assert.ok(!body.includes(MARKER), context)
        assert.ok(res.statusCode < 500, `${res.statusCode} for ${context}: ${body.toString()}`)
        if (res.statusCode < 300) {
          assert.ok(
            grants.includes('read') && (verb === 'GET' || verb === 'HEAD'),
            `${res.statusCode} for ${context}`,
          )
          assert.ok(documentedRoute(segmentsUnderPrefix(target!)) !== undefined, context)
        } else {
          assert.equal(res.headers['content-type'], 'application/json; charset=utf-8')
          const { error } = JSON.parse(body.toString()) as { error: { code: string; message: string } }
          assert.equal(httpStatusForCode(error.code), res.statusCode, context)
          if (authorization === undefined) assert.equal(res.statusCode, 401, context)
        }
        await assertSurroundingsIntact()
      }),
      { numRuns: 300 },
    )
  })
})
