/**
 * Floods of trigger headers against a real Express app with @tripwire/express, over real HTTP on 127.0.0.1.
 * Whatever arrives at once, and however many distinct tokens or route templates it carries, exactly one capture
 * starts, every request is answered as if no header had been sent, and every table Tripwire keeps per token or
 * per route stays within its cap.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { Agent, createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import express from 'express'
import { LocalDiskSink, OTHER_ROUTES, type TripwireController, type TripwireOptions } from '@tripwire/core'
import { tripwire } from '@tripwire/express'
import { HMAC_KID, SECRET, SERVICE, sign, triggerToken } from './conformance/tokens.js'

/** How long /hold keeps each request open without blocking the event loop, so that the flood overlaps. */
const HOLD_MS = 200
const FLOOD_SIZE = 1000
/** High enough that every token of a flood is verified, so that each reaches the capture lock or the caches. */
const UNLIMITED_VERIFICATIONS = 100_000
const DEFAULT_VERIFICATIONS_PER_SEC = 100
/** The forged-token cache's fixed bound (see the Security section of the core README). */
const FORGED_TOKEN_CACHE_ENTRIES = 1024
const FORGER_SECRET = 'not-the-service-secret-but-at-least-32-bytes-long'

interface FloodResponse {
  status: number
  profileStatus: string | undefined
  profileId: string | undefined
  body: string
}

interface FloodApp {
  port: number
  controller: TripwireController
  /** The most requests /hold held at one time: the proof that a flood was concurrent. */
  peakInFlight(): number
  /** The largest replay-cache size that status() showed to any request's handler. */
  peakReplayCacheSize(): number
  /** The largest forged-token cache size any request's handler saw. */
  peakForgedTokenCacheSize(): number
  close(): Promise<void>
}

/** The forged-token cache's size, as status() reports it. */
function forgedTokenCacheSize(controller: TripwireController): number {
  return controller.headerTrigger.status().forgedCacheSize
}

/**
 * An Express app with Tripwire in front of:
 *   GET /hold       waits HOLD_MS (a timer, so requests overlap) and answers { ok: true, held }
 *   GET /health     answers "ok" at once
 *   GET /r/<i>      one registered route per i < routeCount, each its own route template
 */
async function startFloodApp(options: Partial<TripwireOptions>, routeCount = 0): Promise<FloodApp> {
  const dir = await mkdtemp(join(tmpdir(), 'tripwire-flood-'))
  const middleware = tripwire({
    service: SERVICE,
    keys: [{ kid: HMAC_KID, secret: SECRET }],
    sink: new LocalDiskSink({ dir }),
    ...options,
  })
  const controller = middleware.tripwire
  let inFlight = 0
  let peakInFlight = 0
  let peakReplayCacheSize = 0
  let peakForgedTokenCacheSize = 0
  const observeCaches = (): void => {
    peakReplayCacheSize = Math.max(peakReplayCacheSize, controller.status().trigger.replayCacheSize)
    peakForgedTokenCacheSize = Math.max(peakForgedTokenCacheSize, forgedTokenCacheSize(controller))
  }

  const app = express()
  app.use(middleware)
  app.get('/hold', async (_req, res) => {
    observeCaches()
    inFlight++
    peakInFlight = Math.max(peakInFlight, inFlight)
    await sleep(HOLD_MS)
    inFlight--
    res.json({ ok: true, held: HOLD_MS })
  })
  app.get('/health', (_req, res) => {
    observeCaches()
    res.send('ok')
  })
  for (let i = 0; i < routeCount; i++) app.get(`/r/${i}`, (_req, res) => void res.send(String(i)))

  const server: Server = createServer(app)
  // a thousand connections arrive within milliseconds: a backlog above the default 511 keeps the kernel from
  // dropping SYNs (which the client would only retry a second later)
  server.listen({ port: 0, host: '127.0.0.1', backlog: 2048 })
  await once(server, 'listening')
  return {
    port: (server.address() as AddressInfo).port,
    controller,
    peakInFlight: () => peakInFlight,
    peakReplayCacheSize: () => peakReplayCacheSize,
    peakForgedTokenCacheSize: () => peakForgedTokenCacheSize,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await controller.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

function send(
  agent: Agent,
  port: number,
  path: string,
  headers: Record<string, string>,
): Promise<FloodResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk))
      res.on('error', reject)
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          profileStatus: res.headers['x-profile-status'] as string | undefined,
          profileId: res.headers['x-profile-id'] as string | undefined,
          body,
        }),
      )
    })
    req.setTimeout(30_000, () => req.destroy(new Error(`GET ${path} timed out`)))
    req.on('error', reject)
    req.end()
  })
}

/** Every request at once, each on a connection of its own. */
async function sendAllAtOnce(
  port: number,
  path: string,
  tokens: readonly string[],
): Promise<{ responses: FloodResponse[]; elapsedMs: number }> {
  const agent = new Agent({ keepAlive: false, maxSockets: tokens.length })
  const begun = performance.now()
  try {
    const responses = await Promise.all(
      tokens.map((token) => send(agent, port, path, { 'x-trigger-profile': token })),
    )
    return { responses, elapsedMs: performance.now() - begun }
  } finally {
    agent.destroy()
  }
}

/** `count` requests, `concurrency` at a time over keep-alive connections; `headersOf(i)` for the i-th. */
async function sendInWaves(
  port: number,
  count: number,
  concurrency: number,
  pathOf: (index: number) => string,
  headersOf: (index: number) => Record<string, string>,
): Promise<FloodResponse[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  const responses: FloodResponse[] = new Array<FloodResponse>(count)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next++
      responses[index] = await send(agent, port, pathOf(index), headersOf(index))
    }
  }
  try {
    await Promise.all(Array.from({ length: concurrency }, worker))
    return responses
  } finally {
    agent.destroy()
  }
}

function countBy<T>(values: readonly T[], keyOf: (value: T) => string): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const value of values) counts[keyOf(value)] = (counts[keyOf(value)] ?? 0) + 1
  return counts
}

function assertHoldServedNormally(responses: readonly FloodResponse[]): void {
  const unusual = responses.filter((r) => r.status !== 200 || r.body !== `{"ok":true,"held":${HOLD_MS}}`)
  assert.deepEqual(unusual.slice(0, 3), [], `${unusual.length} responses were not served normally`)
}

/** Waits until the one accepted capture is stored, then checks that it is the only capture in the sink. */
async function assertExactlyOneStoredCapture(app: FloodApp, id: string): Promise<void> {
  const deadline = performance.now() + 10_000
  let meta = await app.controller.find(id)
  while (meta?.status === 'running' && performance.now() < deadline) {
    await sleep(20)
    meta = await app.controller.find(id)
  }
  assert.equal(meta?.status, 'completed', `capture ${id} was stored as completed`)
  const page = await app.controller.list({ limit: 100 })
  assert.deepEqual(
    page.items.map((item) => item.id),
    [id],
    'exactly one capture is stored',
  )
  assert.equal(app.controller.status().counters.started, 1, 'exactly one capture was started')
}

describe('floods against a real Express app (127.0.0.1)', () => {
  test('1,000 concurrent valid trigger tokens start exactly one capture; every request is served', async (t) => {
    const app = await startFloodApp({ token: { maxVerificationsPerSec: UNLIMITED_VERIFICATIONS } })
    try {
      const tokens = Array.from({ length: FLOOD_SIZE }, () => triggerToken())
      const { responses, elapsedMs } = await sendAllAtOnce(app.port, '/hold', tokens)

      assertHoldServedNormally(responses)
      const outcomes = countBy(responses, (r) => r.profileStatus ?? '(none)')
      t.diagnostic(
        `${FLOOD_SIZE} requests in ${elapsedMs.toFixed(0)} ms, peak ${app.peakInFlight()} in flight; ` +
          `outcomes ${JSON.stringify(outcomes)}`,
      )
      assert.equal(outcomes.accepted, 1, `outcomes: ${JSON.stringify(outcomes)}`)
      assert.equal(
        (outcomes.busy ?? 0) + (outcomes['rate-limited'] ?? 0),
        FLOOD_SIZE - 1,
        `every other token was refused as busy or rate-limited: ${JSON.stringify(outcomes)}`,
      )
      // the requests overlapped the running capture, not merely followed it
      assert.ok((outcomes.busy ?? 0) > 0, `some tokens met the running capture: ${JSON.stringify(outcomes)}`)
      assert.ok(app.peakInFlight() >= 50, `requests overlapped (peak in flight ${app.peakInFlight()})`)

      const trigger = app.controller.status().trigger
      assert.equal(trigger.accepted, 1)
      assert.equal(trigger.busy + trigger.rateLimited, FLOOD_SIZE - 1)
      assert.deepEqual(trigger.rejected, {}, 'every token was verified; none was refused')
      assert.equal(trigger.replayCacheSize, FLOOD_SIZE, 'each verified token is remembered once')

      const accepted = responses.find((r) => r.profileStatus === 'accepted')!
      await assertExactlyOneStoredCapture(app, accepted.profileId!)
    } finally {
      await app.close()
    }
  })

  test('with the default verification budget the excess is refused unverified, and every request is served', async (t) => {
    const app = await startFloodApp({})
    try {
      const tokens = Array.from({ length: FLOOD_SIZE }, () => triggerToken())
      const { responses, elapsedMs } = await sendAllAtOnce(app.port, '/hold', tokens)

      assertHoldServedNormally(responses)
      const outcomes = countBy(responses, (r) => r.profileStatus ?? '(none)')
      t.diagnostic(
        `${FLOOD_SIZE} requests in ${elapsedMs.toFixed(0)} ms, peak ${app.peakInFlight()} in flight; ` +
          `outcomes ${JSON.stringify(outcomes)}`,
      )
      assert.equal(outcomes.accepted, 1, `outcomes: ${JSON.stringify(outcomes)}`)

      const trigger = app.controller.status().trigger
      const overBudget = trigger.rejected['over-verification-budget'] ?? 0
      assert.deepEqual(
        Object.keys(trigger.rejected),
        ['over-verification-budget'],
        'the budget is the only reason a valid token was refused',
      )
      assert.equal(outcomes.rejected, overBudget, 'each over-budget token was answered `rejected`')
      assert.equal(trigger.accepted + trigger.busy + trigger.rateLimited + overBudget, FLOOD_SIZE)
      // the budget is per wall-clock second: a flood that spans n seconds straddles at most n + 1 of them
      const budgetWindows = Math.ceil(elapsedMs / 1000) + 1
      const verified = FLOOD_SIZE - overBudget
      assert.ok(
        verified <= DEFAULT_VERIFICATIONS_PER_SEC * budgetWindows,
        `${verified} tokens verified in ${elapsedMs.toFixed(0)} ms, over ${DEFAULT_VERIFICATIONS_PER_SEC}/s`,
      )
      assert.ok(overBudget > 0, 'the excess was refused as over-verification-budget')
      assert.equal(trigger.replayCacheSize, verified, 'only verified tokens reach the replay cache')

      const accepted = responses.find((r) => r.profileStatus === 'accepted')!
      await assertExactlyOneStoredCapture(app, accepted.profileId!)
    } finally {
      await app.close()
    }
  })

  test('the replay cache never grows past token.replayCacheSize; later tokens are refused as replay-cache-full', async () => {
    const replayCacheSize = 200
    const tokenCount = 600
    const app = await startFloodApp({
      token: { replayCacheSize, maxVerificationsPerSec: UNLIMITED_VERIFICATIONS },
    })
    try {
      const tokens = Array.from({ length: tokenCount }, () => triggerToken())
      const { responses } = await sendAllAtOnce(app.port, '/hold', tokens)

      assertHoldServedNormally(responses)
      const trigger = app.controller.status().trigger
      assert.equal(trigger.replayCacheSize, replayCacheSize)
      assert.ok(
        app.peakReplayCacheSize() <= replayCacheSize,
        `the largest size any handler saw, ${app.peakReplayCacheSize()}, is within the cap`,
      )
      // every token is unexpired, so no entry can be swept to make room: the rest are refused
      assert.deepEqual(trigger.rejected, { 'replay-cache-full': tokenCount - replayCacheSize })
      assert.equal(trigger.accepted, 1)
      assert.equal(trigger.busy + trigger.rateLimited, replayCacheSize - 1)
      const outcomes = countBy(responses, (r) => r.profileStatus ?? '(none)')
      assert.equal(outcomes.rejected, tokenCount - replayCacheSize, `outcomes: ${JSON.stringify(outcomes)}`)

      const accepted = responses.find((r) => r.profileStatus === 'accepted')!
      await assertExactlyOneStoredCapture(app, accepted.profileId!)
    } finally {
      await app.close()
    }
  })

  test('the forged-token cache stays at 1,024 entries under 5,000 distinct forged tokens', async () => {
    const forgedCount = 5000
    const app = await startFloodApp({ token: { maxVerificationsPerSec: UNLIMITED_VERIFICATIONS } })
    try {
      // well-formed tokens for the right service and kid, signed with the wrong secret, each with its own jti
      const forged = Array.from({ length: forgedCount }, () =>
        sign({ scope: 'profiles:trigger', jti: randomUUID() }, { secret: FORGER_SECRET }),
      )
      const responses = await sendInWaves(
        app.port,
        forgedCount,
        200,
        () => '/health',
        (index) => ({ 'x-trigger-profile': forged[index]! }),
      )

      const unusual = responses.filter((r) => r.status !== 200 || r.body !== 'ok')
      assert.equal(unusual.length, 0, 'every request with a forged token was served normally')
      assert.deepEqual(
        countBy(responses, (r) => r.profileStatus ?? '(none)'),
        { rejected: forgedCount },
      )
      const trigger = app.controller.status().trigger
      assert.deepEqual(trigger.rejected, { 'bad-signature': forgedCount })
      assert.equal(trigger.accepted, 0)
      assert.equal(trigger.replayCacheSize, 0, 'a forged token never reaches the replay cache')
      assert.equal(forgedTokenCacheSize(app.controller), FORGED_TOKEN_CACHE_ENTRIES)
      assert.ok(
        app.peakForgedTokenCacheSize() <= FORGED_TOKEN_CACHE_ENTRIES,
        `the largest size any handler saw, ${app.peakForgedTokenCacheSize()}, is within the cap`,
      )
      assert.equal(app.controller.status().counters.started, 0)
    } finally {
      await app.close()
    }
  })

  test('the tracked-routes table stays within triggers.maxTrackedRoutes under thousands of route templates', async () => {
    const maxTrackedRoutes = 50
    const routeCount = 2000
    const directRouteCount = 10_000
    const app = await startFloodApp({ triggers: { maxTrackedRoutes } }, routeCount)
    try {
      // distinct registered routes: Express reports each as its own template, as a large API would
      const responses = await sendInWaves(
        app.port,
        routeCount,
        100,
        (index) => `/r/${index}`,
        () => ({}),
      )
      assert.ok(
        responses.every((r, index) => r.status === 200 && r.body === String(index)),
        'every route answered',
      )
      // and far more names than any router would produce, straight into the controller
      for (let i = 0; i < directRouteCount; i++) app.controller.recordLatency('GET', `/direct/${i}`, 1)

      const routes = app.controller.status().routes
      assert.equal(routes.length, maxTrackedRoutes + 1, 'the tracked routes plus the shared `other`')
      const other = routes.find((route) => route.route === OTHER_ROUTES)
      assert.ok(other, 'routes past the cap share `other`')
      assert.equal(other.count, routeCount + directRouteCount - maxTrackedRoutes)
      assert.equal(
        routes.reduce((sum, route) => sum + route.count, 0),
        routeCount + directRouteCount,
        'no request went uncounted',
      )
    } finally {
      await app.close()
    }
  })
})
