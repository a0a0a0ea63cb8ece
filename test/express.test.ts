/** The conformance suite against Express 5 and Express 4 (installed as the npm alias `express4`). */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { LocalDiskSink, type CaptureMeta } from '@tripwire/core'
import express5 from 'express'
import express4 from 'express4'
import { tripwire } from '@tripwire/express'
import type { CreateApp } from './conformance/app-contract.js'
import { headersResponse, slowResponse, workResponse, writeStream } from './conformance/app-contract.js'
import { servedOnLoopback } from './conformance/serve.js'
import { defineConformanceSuite } from './conformance/suite.js'
import { adminToken, HMAC_KID, SECRET, SERVICE } from './conformance/tokens.js'

type ExpressFactory = typeof express5

function expressApp(express: ExpressFactory): CreateApp {
  return async (options) => {
    const app = express()
    const middleware = tripwire(options)
    app.use(middleware)
    app.get('/work/:ms', (req, res) => void res.json(workResponse(req.params.ms)))
    app.get('/slow/:ms', async (req, res) => void res.json(await slowResponse(req.params.ms)))
    app.get('/health', (_req, res) => void res.send('ok'))
    app.get('/stream', (_req, res) => writeStream(res))
    app.get('/headers', (req, res) => void res.json(headersResponse(req)))
    const api = express.Router()
    api.get('/items/:id', (req, res) => void res.json({ id: req.params.id }))
    app.use('/api', api)
    return servedOnLoopback(app.listen(0, '127.0.0.1'), middleware.tripwire)
  }
}

defineConformanceSuite('express 5', expressApp(express5))
defineConformanceSuite('express 4', expressApp(express4))

describe('express specifics', () => {
  test('the admin API still reads its JSON when express.json() is mounted before Tripwire', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tripwire-express-json-'))
    const app = express5()
    app.use(express5.json())
    const middleware = tripwire({
      service: SERVICE,
      keys: [{ kid: HMAC_KID, secret: SECRET }],
      sink: new LocalDiskSink({ dir }),
      limits: { cooldownMs: 0 },
    })
    app.use(middleware)
    const server = app.listen(0, '127.0.0.1')
    await once(server, 'listening')
    try {
      const { port } = server.address() as AddressInfo
      const response = await fetch(`http://127.0.0.1:${port}/_tripwire/captures`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${adminToken('profiles:write')}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ kind: 'cpu', durationMs: 50, labels: { via: 'express.json' } }),
      })
      assert.equal(response.status, 202, await response.clone().text())
      const meta = (await response.json()) as CaptureMeta
      assert.deepEqual(meta.labels, { via: 'express.json' })
      await middleware.tripwire.stop(meta.id).catch(() => undefined)
    } finally {
      await middleware.tripwire.close()
      server.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('express mounted under a path', () => {
  test('the admin API answers under the mount, and its Location and links carry it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tripwire-express-mount-'))
    const app = express5()
    const middleware = tripwire({
      service: SERVICE,
      keys: [{ kid: HMAC_KID, secret: SECRET }],
      sink: new LocalDiskSink({ dir }),
      limits: { cooldownMs: 0 },
    })
    app.use('/ops', middleware)
    const server = app.listen(0, '127.0.0.1')
    await once(server, 'listening')
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      const headers = { authorization: `Bearer ${adminToken()}`, 'content-type': 'application/json' }
      const created = await fetch(`${base}/ops/_tripwire/captures`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ durationMs: 50 }),
      })
      assert.equal(created.status, 202)
      const { id } = (await created.json()) as CaptureMeta
      assert.equal(created.headers.get('location'), `/ops/_tripwire/captures/${id}`)
      while ((await middleware.tripwire.find(id))?.status === 'running') await sleep(20)
      const meta = (await (await fetch(`${base}/ops/_tripwire/captures/${id}`, { headers })).json()) as {
        links: { profile: string }
      }
      assert.match(meta.links.profile, new RegExp(`^/ops/_tripwire/captures/${id}/profile\\?token=`))
      assert.equal((await fetch(`${base}${meta.links.profile}`)).status, 200)
    } finally {
      await middleware.tripwire.close()
      server.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
