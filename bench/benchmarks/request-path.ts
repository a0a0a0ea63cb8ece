import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { IncomingMessage, ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  createTripwire,
  createTripwireHttp,
  LocalDiskSink,
  mintToken,
  TRIGGER_HEADER,
  TRIGGER_SCOPE,
  type HeaderRejection,
  type HeaderTrigger,
  type JwtAlgorithm,
  type KeyOption,
  type Logger,
  type TripwireController,
  type TripwireHttp,
} from '@tripwire/core'
import { round, summarize } from '../stats.js'
import type { BenchOptions, BenchResult } from '../types.js'

export const name = 'request-path'

const HOT_PATH_TARGET_NS = 200
const SERVICE = 'bench-request-path'
const ROUTE = '/api/v1/users/:id'
const REQUEST_URL = '/api/v1/users/42?expand=orders'
// Well inside the default token.maxTtlSec (300 s), and far longer than the benchmark
const TOKEN_TTL_SEC = 120
const ALGORITHMS = ['HS256', 'ES256', 'RS256', 'EdDSA'] as const satisfies readonly JwtAlgorithm[]
type Algorithm = (typeof ALGORITHMS)[number]

const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} }

/** A request after routing: the router has stored the template it matched, as Express and Koa do. */
interface RoutedRequest extends IncomingMessage {
  matchedRoute?: string
}

interface Subject {
  id: string
  label: string
  /** Runs `n` requests in a tight loop; returns something so the loop's work is observable. */
  loop(n: number): number
}

// ---------------------------------------------------------------------------------------------------------
// Hot path: a request without the trigger header, whose latency is recorded when its response finishes.
//
// Each iteration builds a fresh response for one request per subject, as a server does per request: a
// listener Tripwire leaves on a response is never removed (the response ends with its request), so a reused
// response would pile listeners up. Building it costs the same in every loop, and drops out of the difference.
// Node's HTTP server puts a 'finish' listener on every response before any middleware runs, and emits 'close'
// on the tick after 'finish' (Tripwire times the response to 'close'): the loops do both, as a server does.
// Each subject has its own loop function, so that its call sites see one receiver type, as an adapter's do.
// ---------------------------------------------------------------------------------------------------------

let serverFinishes = 0
function onServerFinish(): void {
  serverFinishes++
}

/** The route template the framework matched: Express's `req.route.path`, Koa's `ctx._matchedRoute`. */
function routeTemplate(req: RoutedRequest): string | undefined {
  return req.matchedRoute
}

/** The reference: the same request, 'finish' and 'close', without Tripwire. */
function bareLoop(req: RoutedRequest, n: number): number {
  for (let i = 0; i < n; i++) {
    const res = new ServerResponse(req)
    res.on('finish', onServerFinish)
    res.emit('finish')
    res.emit('close')
  }
  return serverFinishes
}

/** What the Express and Koa adapters run: `handle()`, with the function that reads the route and its context. */
function handleLoop(http: TripwireHttp, req: RoutedRequest, n: number): number {
  let next = 0
  for (let i = 0; i < n; i++) {
    const res = new ServerResponse(req)
    res.on('finish', onServerFinish)
    if (http.handle(req, res, routeTemplate, req) === 'next') next++
    res.emit('finish')
    res.emit('close')
  }
  return next + serverFinishes
}

/** What the Fastify plugin's `onRequest` hook runs: the response timed, the header checked (no admin prefix). */
function fastifyHookLoop(controller: TripwireController, req: RoutedRequest, n: number): number {
  const trigger = controller.headerTrigger
  const timing = controller.responseTiming
  let proceeded = 0
  for (let i = 0; i < n; i++) {
    const res = new ServerResponse(req)
    res.on('finish', onServerFinish)
    timing.start(req, res, routeTemplate, req)
    if (trigger.beforeRequest(req, res, routeTemplate, req) === undefined) proceeded++
    res.emit('finish')
    res.emit('close')
  }
  return proceeded + serverFinishes
}

// ---------------------------------------------------------------------------------------------------------
// Token verification: a request carrying x-trigger-profile, through HeaderTrigger.beforeRequest, which is
// what every adapter calls. beforeRequest strips the header from the request, so each iteration puts it back
// (a few ns, against µs of verification). One loop function serves every token subject: its call site always
// sees the same HeaderTrigger class, and the algorithm only changes which branch runs inside the verifier.
// ---------------------------------------------------------------------------------------------------------

/** The header values a subject sends, in turn, starting over after the last. */
interface TokenStream {
  readonly tokens: readonly string[]
  next: number
}

function tokenLoop(
  trigger: HeaderTrigger,
  req: RoutedRequest,
  res: ServerResponse,
  stream: TokenStream,
  n: number,
): number {
  const { tokens } = stream
  let next = stream.next
  let refused = 0
  for (let i = 0; i < n; i++) {
    const token = tokens[next]!
    if (++next === tokens.length) next = 0
    req.headers[TRIGGER_HEADER] = token
    req.rawHeaders.push('X-Trigger-Profile', token)
    if (trigger.beforeRequest(req, res, routeTemplate, req) === undefined) refused++
  }
  stream.next = next
  return refused
}

export async function run(options: BenchOptions): Promise<BenchResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'tripwire-bench-request-path-'))
  const controllers: TripwireController[] = []
  try {
    const hotPath = hotPathSubjects(controllers, dir)
    await expectLatenciesRecorded(controllers, dir)
    const hotPathResults = measureHotPath(hotPath, options)
    const tokenResults = await measureTokens(controllers, dir, options)
    return [...hotPathResults, ...tokenResults]
  } finally {
    await Promise.all(controllers.map((controller) => controller.close()))
    await rm(dir, { recursive: true, force: true })
  }
}

interface HotPath {
  controller: TripwireController
  bare: Subject
  handle: Subject
  fastify: Subject
}

function hotPathSubjects(controllers: TripwireController[], dir: string): HotPath {
  // As the load-overhead `idle` scenario: a key (so the header would be verified, and the admin API is
  // mounted, whose prefix every request is tested against) and one SLO rule (so latencies go to two tables)
  const controller = createTripwire({
    service: SERVICE,
    sink: new LocalDiskSink({ dir }),
    logger: silentLogger,
    keys: [{ kid: 'hot-path', secret: randomBytes(48) }],
    slo: [{ route: `GET ${ROUTE}`, quantile: 0.99, thresholdMs: 60_000, windowMs: 10_000 }],
  })
  controllers.push(controller)
  const http = createTripwireHttp(controller)
  // Each subject has its own request and response, so that no subject's listeners or shapes affect another
  const bareReq = plainRequest()
  const handleReq = plainRequest()
  const fastifyReq = plainRequest()
  return {
    controller,
    bare: {
      id: 'request-path.bare',
      label: 'request + finish, no Tripwire (reference)',
      loop: (n) => bareLoop(bareReq, n),
    },
    handle: {
      id: 'request-path.handle',
      label: 'request + finish, with handle() (Express, Koa)',
      loop: (n) => handleLoop(http, handleReq, n),
    },
    fastify: {
      id: 'request-path.fastify-hooks',
      label: 'request + finish, with the Fastify hook',
      loop: (n) => fastifyHookLoop(controller, fastifyReq, n),
    },
  }
}

/**
 * Each loop's requests must reach the latency tables, so that no figure comes from a path that records
 * nothing: a controller of its own takes a known number of requests through each loop and counts them.
 */
async function expectLatenciesRecorded(controllers: TripwireController[], dir: string): Promise<void> {
  const requests = 1000
  const subjects = hotPathSubjects(controllers, dir)
  const counted = (): number => {
    const stats = subjects.controller.status().routes.find((route) => route.route === `GET ${ROUTE}`)
    return stats?.count ?? 0
  }
  for (const subject of [subjects.handle, subjects.fastify]) {
    const before = counted()
    subject.loop(requests)
    const recorded = counted() - before
    if (recorded !== requests) {
      throw new Error(`${subject.id}: ${requests} requests recorded ${recorded} latencies`)
    }
  }
  await subjects.controller.close()
}

function measureHotPath(hotPath: HotPath, options: BenchOptions): BenchResult[] {
  const rounds = options.quick ? 7 : 15
  const iterations = options.quick ? 200_000 : 1_000_000
  const warmups = 3
  const warmupIterations = 200_000
  const subjects = [hotPath.bare, hotPath.handle, hotPath.fastify]

  options.log(
    `hot path warm-up: ${warmups} × ${warmupIterations.toLocaleString('en-US')} requests per subject`,
  )
  let blackhole = 0
  for (let w = 0; w < warmups; w++)
    for (const subject of subjects) blackhole += subject.loop(warmupIterations)

  const samples = subjects.map((): number[] => [])
  for (let r = 0; r < rounds; r++) {
    // Interleaved, each round starting one subject later, so drift hits the reference and Tripwire alike
    for (let s = 0; s < subjects.length; s++) {
      const index = (r + s) % subjects.length
      const started = process.hrtime.bigint()
      blackhole += subjects[index]!.loop(iterations)
      samples[index]!.push(Number(process.hrtime.bigint() - started) / iterations)
    }
  }
  options.log(`hot path: ${rounds} rounds of ${iterations.toLocaleString('en-US')} requests per subject`)
  if (Number.isNaN(blackhole)) options.log('(unreachable: keeps the loops observable)')

  const [bare, handle, fastify] = samples as [number[], number[], number[]]
  // The added cost is taken within each round (the two loops ran back to back), then the median over rounds
  const added = (withTripwire: number[]): number[] => withTripwire.map((ns, r) => ns - bare[r]!)
  const every = `${iterations / 1e6}M requests per round`
  return [
    figure(
      hotPath.bare,
      bare,
      'ns',
      `one 'finish' listener (as Node's server adds), 'finish' and 'close' emitted; ${every}`,
    ),
    figure(hotPath.handle, handle, 'ns', `absolute; ${every}`),
    figure(
      { id: 'request-path.handle-added', label: 'hot path added by handle() (Express, Koa)' },
      added(handle),
      'ns',
      'per-round difference to the reference: admin prefix test, header lookup, 2 clock reads, ' +
        "a 'close' listener, recording in 2 tables (one lookup, one bucket)",
      HOT_PATH_TARGET_NS,
    ),
    figure(hotPath.fastify, fastify, 'ns', `absolute; ${every}`),
    figure(
      { id: 'request-path.fastify-hooks-added', label: 'hot path added by the Fastify hook' },
      added(fastify),
      'ns',
      "per-round difference to the reference: header lookup, 2 clock reads, a 'close' listener, recording " +
        "in 2 tables; Fastify's dispatch of the hook not included",
      HOT_PATH_TARGET_NS,
    ),
  ]
}

interface TokenSubject extends Subject {
  note: string
  /** Requests per round (and in the warm-up). */
  perRound: number
  /** Why beforeRequest refuses it: the proof that the loop measured the intended path. */
  expected: HeaderRejection
}

async function measureTokens(
  controllers: TripwireController[],
  dir: string,
  options: BenchOptions,
): Promise<BenchResult[]> {
  const rounds = options.quick ? 5 : 15
  const iterations = options.quick ? 300 : 1000
  // A remembered forgery costs well under a µs: more requests keep its rounds long enough to time
  const repeatedIterations = iterations * 50
  // A verifying subject's requests: warm-up, rounds, and the check before and after
  const requestsPerSubject = (1 + rounds) * iterations + 2

  const signing = ALGORITHMS.map((algorithm) => ({ algorithm, ...signingKeys(algorithm) }))
  const controller = createTripwire({
    service: SERVICE,
    sink: new LocalDiskSink({ dir }),
    logger: silentLogger,
    admin: false,
    keys: signing.map(({ keyOption }) => keyOption),
    // The default budget (100 signature checks a second) refuses nearly all of these requests unchecked, at
    // the cost of a counter: at its maximum, every request here pays for its own verification
    token: { maxVerificationsPerSec: 1_000_000 },
  })
  controllers.push(controller)
  const trigger = controller.headerTrigger

  const mint = (algorithm: Algorithm, key: Buffer | KeyObject): string =>
    mintToken({
      key,
      algorithm,
      kid: kidOf(algorithm),
      audience: SERVICE,
      subject: 'oncall@example.com',
      scope: TRIGGER_SCOPE,
      ttlSec: TOKEN_TTL_SEC,
      claims: { kind: 'cpu', mode: 'request' },
    })
  const subjectFor = (
    fields: Omit<TokenSubject, 'loop' | 'perRound'>,
    perRound: number,
    tokens: readonly string[],
  ): TokenSubject => {
    const [req, res] = requestAndResponse()
    const stream: TokenStream = { tokens, next: 0 }
    return { ...fields, perRound, loop: (n) => tokenLoop(trigger, req, res, stream, n) }
  }

  // A valid token starts a capture the first time and is refused as a replay from then on, after the same
  // signature and claim checks: the refusal costs what an accepted token costs before its capture starts,
  // less one replay-cache insert. Each valid token is spent once first, on this controller closed for the
  // purpose: the closed controller refuses the capture, but the token's jti is recorded all the same, and no
  // profiler ever runs in this process.
  await controller.close()
  const subjects: TokenSubject[] = []
  let repeatedForgery: string | undefined
  for (const { algorithm, signingKey, wrongKey } of signing) {
    const valid = mint(algorithm, signingKey)
    const [spendReq, spendRes] = requestAndResponse()
    spendReq.headers[TRIGGER_HEADER] = valid
    await trigger.beforeRequest(spendReq, spendRes, routeTemplate, spendReq)
    // Right kid, wrong key. The trigger remembers tokens whose signature failed and refuses them again
    // without any cryptography, so each request carries a forgery never sent before: the verifier's cost,
    // not the cache's. (One signature, varied payloads: each is refused by the signature check alone.)
    const forged = mint(algorithm, wrongKey)
    repeatedForgery ??= forged
    const lower = algorithm.toLowerCase()
    subjects.push(
      subjectFor(
        {
          id: `request-path.token.${lower}.valid`,
          label: `${algorithm} token, valid`,
          expected: 'replayed',
          note: `signature and claims verified, then refused as a replay; ${iterations} per round`,
        },
        iterations,
        [valid],
      ),
      subjectFor(
        {
          id: `request-path.token.${lower}.invalid`,
          label: `${algorithm} token, wrong key`,
          expected: 'bad-signature',
          note:
            "right kid, another key's signature, each token new: refused as bad-signature; " +
            `${iterations} per round`,
        },
        iterations,
        forgeries(forged, requestsPerSubject),
      ),
    )
  }
  // What an attack replaying one forged token costs: the first request verifies it, the others find it
  // remembered (the other subjects' forgeries push it out between rounds: one verification per round). The
  // same string each time, so its hash is computed once; a server's parser hands every request a new string,
  // which the lookup hashes again.
  subjects.push(
    subjectFor(
      {
        id: 'request-path.token.forged-repeated',
        label: 'forged token sent again (any algorithm)',
        expected: 'bad-signature',
        note:
          `one ${signing[0]!.algorithm} forgery over and over, refused as already seen; ` +
          `${repeatedIterations} per round`,
      },
      repeatedIterations,
      [repeatedForgery!],
    ),
  )
  for (const subject of subjects) expectRefusal(trigger, subject)

  options.log('tokens warm-up: one round per subject')
  const refusedBefore = trigger.status().rejected
  let blackhole = 0
  for (const subject of subjects) blackhole += subject.loop(subject.perRound)
  const samples = subjects.map((): number[] => [])
  for (let r = 0; r < rounds; r++) {
    // Interleaved as the hot path is
    for (let s = 0; s < subjects.length; s++) {
      const index = (r + s) % subjects.length
      const subject = subjects[index]!
      const perRound = subject.perRound
      const started = process.hrtime.bigint()
      blackhole += subject.loop(perRound)
      samples[index]!.push(Number(process.hrtime.bigint() - started) / perRound / 1000)
    }
  }
  options.log(
    `tokens: ${rounds} rounds of ${iterations} requests per subject (${repeatedIterations} repeated)`,
  )
  const requests = subjects.reduce((sum, subject) => sum + (1 + rounds) * subject.perRound, 0)
  if (blackhole !== requests) {
    throw new Error('request-path: a token request was not refused synchronously; the figures are not valid')
  }
  // Every request was refused for the reason its subject expects, not for another one on a cheaper path
  const refusedAfter = trigger.status().rejected
  for (const reason of new Set(subjects.map((subject) => subject.expected))) {
    const expected = subjects
      .filter((subject) => subject.expected === reason)
      .reduce((sum, subject) => sum + (1 + rounds) * subject.perRound, 0)
    const counted = (refusedAfter[reason] ?? 0) - (refusedBefore[reason] ?? 0)
    if (counted !== expected) {
      throw new Error(
        `request-path: ${counted} of ${expected} token requests refused as ${reason}; ` +
          `refusals: ${JSON.stringify(refusedAfter)}`,
      )
    }
  }
  // Still the intended refusals at the end: nothing expired or changed path during the rounds
  for (const subject of subjects) expectRefusal(trigger, subject)

  return subjects.map((subject, s) => figure(subject, samples[s]!, 'µs', subject.note))
}

/**
 * `count` distinct tokens from one: the payload's jti numbered, the header and signature kept. Each is a
 * well-formed token for the right kid whose signature does not match.
 */
function forgeries(token: string, count: number): string[] {
  const [header, payload, signature] = token.split('.') as [string, string, string]
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>
  return Array.from({ length: count }, (_, k) => {
    const varied = Buffer.from(JSON.stringify({ ...claims, jti: `${String(claims.jti)}-${k}` }))
    return `${header}.${varied.toString('base64url')}.${signature}`
  })
}

/** Runs one request of the subject and checks the trigger counted it under the expected reason. */
function expectRefusal(trigger: HeaderTrigger, subject: TokenSubject): void {
  const before = trigger.status().rejected[subject.expected] ?? 0
  subject.loop(1)
  const after = trigger.status().rejected[subject.expected] ?? 0
  if (after !== before + 1) {
    throw new Error(`request-path: ${subject.label} was not refused as ${subject.expected}`)
  }
}

function kidOf(algorithm: Algorithm): string {
  return `bench-${algorithm.toLowerCase()}`
}

/** The service's key option, the key that signs valid tokens, and one of the same type for invalid ones. */
function signingKeys(algorithm: Algorithm): {
  keyOption: KeyOption
  signingKey: Buffer | KeyObject
  wrongKey: Buffer | KeyObject
} {
  const kid = kidOf(algorithm)
  if (algorithm === 'HS256') {
    const secret = randomBytes(48)
    return { keyOption: { kid, secret }, signingKey: secret, wrongKey: randomBytes(48) }
  }
  const pair = (): { publicKey: KeyObject; privateKey: KeyObject } => {
    if (algorithm === 'RS256') return generateKeyPairSync('rsa', { modulusLength: 2048 })
    if (algorithm === 'ES256') return generateKeyPairSync('ec', { namedCurve: 'P-256' })
    return generateKeyPairSync('ed25519')
  }
  const right = pair()
  return {
    keyOption: { kid, publicKey: right.publicKey },
    signingKey: right.privateKey,
    wrongKey: pair().privateKey,
  }
}

/** A GET as Node's parser leaves it: method, URL, HTTP/1.1, a browser-like set of headers, and the route. */
function plainRequest(): RoutedRequest {
  const req: RoutedRequest = new IncomingMessage(null as never)
  req.method = 'GET'
  req.url = REQUEST_URL
  req.httpVersion = '1.1'
  req.httpVersionMajor = 1
  req.httpVersionMinor = 1
  const rawHeaders = [
    'Host',
    'api.example.com',
    'User-Agent',
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36',
    'Accept',
    'application/json',
    'Accept-Encoding',
    'gzip, deflate, br',
    'Accept-Language',
    'en-GB,en;q=0.9',
    'Connection',
    'keep-alive',
    'X-Request-Id',
    '7f3c2a9e-5b1d-4c8e-9a6f-2d4b8e1c0a7f',
    'Traceparent',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  ]
  req.rawHeaders = rawHeaders
  // Node builds `headers` from the raw pairs on first read; the framework reads it before Tripwire does
  const headers: Record<string, string> = {}
  for (let i = 0; i < rawHeaders.length; i += 2) headers[rawHeaders[i]!.toLowerCase()] = rawHeaders[i + 1]!
  req.headers = headers
  req.matchedRoute = ROUTE
  return req
}

function requestAndResponse(): [RoutedRequest, ServerResponse] {
  const req = plainRequest()
  return [req, new ServerResponse(req)]
}

function figure(
  subject: Pick<Subject, 'id' | 'label'>,
  values: number[],
  unit: string,
  note: string,
  maxTarget?: number,
): BenchResult {
  const { value, min, max } = summarize(values)
  return {
    id: subject.id,
    label: subject.label,
    value: round(value),
    unit,
    ...(maxTarget !== undefined && { target: { max: maxTarget } }),
    note,
    spread: { min: round(min), max: round(max), rounds: values.length },
  }
}
