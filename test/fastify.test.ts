/** The conformance suite against Fastify 5, plus what only a Fastify plugin has. */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout } from 'node:timers/promises'
import { after, before, describe, test } from 'node:test'
import Fastify from 'fastify'
import { createTripwire, LocalDiskSink } from '@tripwire/core'
import { tripwire } from '@tripwire/fastify'
import type { CreateApp } from './conformance/app-contract.js'
import { headersResponse, slowResponse, workResponse, writeStream } from './conformance/app-contract.js'
import { defineConformanceSuite } from './conformance/suite.js'
import { HMAC_KID, SECRET, SERVICE, triggerToken } from './conformance/tokens.js'

const fastifyApp: CreateApp = async (options) => {
  const app = Fastify()
  await app.register(tripwire, options)
  app.get<{ Params: { ms: string } }>('/work/:ms', async (request) => workResponse(request.params.ms))
  app.get<{ Params: { ms: string } }>('/slow/:ms', async (request) => slowResponse(request.params.ms))
  app.get('/health', async (_request, reply) => reply.type('text/plain').send('ok'))
  app.get('/stream', (_request, reply) => {
    reply.hijack()
    writeStream(reply.raw)
  })
  app.get('/headers', async (request) => headersResponse(request.raw))
  await app.register(
    async (api) => {
      api.get<{ Params: { id: string } }>('/items/:id', async (request) => ({ id: request.params.id }))
    },
    { prefix: '/api' },
  )
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  return { url, controller: app.tripwire, close: () => app.close() }
}

defineConformanceSuite('fastify 5', fastifyApp)

describe('fastify specifics', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tripwire-fastify-'))
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  const options = () => ({
    service: SERVICE,
    keys: [{ kid: HMAC_KID, secret: SECRET }],
    sink: new LocalDiskSink({ dir }),
    limits: { cooldownMs: 0, capturesPerHour: 100 },
  })

  test('the admin routes are Fastify routes, and fastify.tripwire is the controller', async () => {
    const app = Fastify()
    await app.register(tripwire, options())
    await app.ready()
    const routes = app.printRoutes({ commonPrefix: false })
    assert.match(routes, /\/_tripwire \(GET, POST, PUT, PATCH, DELETE, OPTIONS\)\n\s+└── \* \(GET, POST/)
    assert.ok(app.hasRoute({ method: 'DELETE', url: '/_tripwire/*' }))
    assert.equal(typeof app.tripwire.start, 'function')
    assert.equal(app.tripwire.status().service, SERVICE)
    await app.close()
  })

  test('config: { tripwire: false } turns the header off for one route', async () => {
    const app = Fastify()
    await app.register(tripwire, options())
    app.get('/private', { config: { tripwire: false } }, async () => ({ ok: true }))
    app.get('/public', async () => ({ ok: true }))
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    try {
      const off = await fetch(`${url}/private`, { headers: { 'x-trigger-profile': triggerToken() } })
      assert.equal(off.status, 200)
      assert.equal(off.headers.get('x-profile-status'), null)
      assert.equal(app.tripwire.status().counters.started, 0)
      const on = await fetch(`${url}/public`, { headers: { 'x-trigger-profile': triggerToken() } })
      assert.equal(on.headers.get('x-profile-status'), 'accepted')
      await on.text()
    } finally {
      await app.close()
    }
  })

  test('a refused token is answered in the reply headers, leaving the raw response untouched', async () => {
    const app = Fastify()
    await app.register(tripwire, options())
    // what the raw response held when the handler ran: a header set on it would make Node's writeHead merge
    app.get('/raw-headers', async (_request, reply) => ({ raw: reply.raw.getHeaderNames() }))
    app.get('/fails', async () => {
      throw new Error('the handler failed')
    })
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    try {
      const refused = await fetch(`${url}/raw-headers`, { headers: { 'x-trigger-profile': 'garbage' } })
      assert.equal(refused.headers.get('x-profile-status'), 'rejected')
      assert.deepEqual(await refused.json(), { raw: [] })
      // Fastify's error handler keeps the reply's headers
      const failed = await fetch(`${url}/fails`, { headers: { 'x-trigger-profile': 'garbage' } })
      assert.equal(failed.status, 500)
      assert.equal(failed.headers.get('x-profile-status'), 'rejected')
      await failed.text()
    } finally {
      await app.close()
    }
  })

  test('fastify.close() stops a running capture and stores it', async () => {
    const app = Fastify()
    await app.register(tripwire, options())
    await app.ready()
    const handle = await app.tripwire.start({ durationMs: 20_000 })
    await app.close()
    const meta = await handle.done
    assert.equal(meta.status, 'aborted')
    const stored = await new LocalDiskSink({ dir }).get(meta.id)
    assert.ok(stored, 'the capture is on disk')
    stored.body.destroy()
  })

  test('a shared controller is not closed with the Fastify instance', async () => {
    const controller = createTripwire(options())
    const app = Fastify()
    await app.register(tripwire, { controller })
    await app.ready()
    assert.equal(app.tripwire, controller)
    await app.close()
    const handle = await controller.start({ durationMs: 10 })
    assert.equal((await handle.done).status, 'completed')
    await controller.close()
  })

  test('a response answered through fastify.inject() is timed once, though its finish is emitted twice', async () => {
    const app = Fastify()
    await app.register(tripwire, options())
    app.get('/work', async () => 'ok')
    await app.ready()
    const requests = 3
    for (let i = 0; i < requests; i++) assert.equal((await app.inject({ url: '/work' })).statusCode, 200)
    const recorded = () =>
      app.tripwire.status().routes.find((route) => route.route === 'GET /work')?.count ?? 0
    // the responses are recorded on 'close', a tick or so after inject() resolves: wait for them, bounded
    for (let waits = 0; recorded() < requests && waits < 50; waits++) await setTimeout(10)
    await setTimeout(20)
    assert.equal(recorded(), requests)
    await app.close()
  })

  test('unknown plugin options are refused with a hint', async () => {
    const app = Fastify()
    await assert.rejects(async () => {
      await app.register(tripwire, { ...options(), limts: {} } as never)
    }, /did you mean "limits"/)
  })
})
