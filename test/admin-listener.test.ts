/**
 * admin.listen: the admin API on a listener of its own, off the application's port, with Express and Fastify.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import express from 'express'
import Fastify from 'fastify'
import jwt from 'jsonwebtoken'
import { createTripwire, LocalDiskSink, type TripwireOptions } from '@tripwire/core'
import { tripwire as expressTripwire } from '@tripwire/express'
import { tripwire as fastifyTripwire } from '@tripwire/fastify'

const SECRET = 'a-secret-for-the-admin-listener-test-0123456789'
const SERVICE = 'checkout'
const bearer = () => {
  const exp = Math.floor(Date.now() / 1000) + 300
  const token = jwt.sign({ scope: 'profiles:read profiles:write', aud: SERVICE, exp, sub: 'ops' }, SECRET, {
    algorithm: 'HS256',
    keyid: 'k1',
  })
  return { authorization: `Bearer ${token}` }
}

let root: string
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tripwire-admin-listener-'))
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

async function options(): Promise<TripwireOptions> {
  return {
    service: SERVICE,
    keys: [{ kid: 'k1', secret: SECRET }],
    sink: new LocalDiskSink({ dir: await mkdtemp(join(root, 'd-')) }),
    admin: { listen: { port: 0 } },
  }
}

describe('admin.listen', () => {
  test('Express: the admin API answers on its own loopback port, and not on the application port', async () => {
    const middleware = expressTripwire(await options())
    const app = express()
    app.use(middleware)
    app.get('/work', (_req, res) => void res.send('ok'))
    const server: Server = app.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const appUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    try {
      const admin = await middleware.tripwire.adminAddress()
      assert.equal(admin.host, '127.0.0.1')
      assert.notEqual(admin.port, (server.address() as AddressInfo).port)
      assert.equal(admin.url, `http://127.0.0.1:${admin.port}/_tripwire`)

      const status = await fetch(`${admin.url}/status`, { headers: bearer() })
      assert.equal(status.status, 200)
      assert.equal(((await status.json()) as { service: string }).service, SERVICE)
      assert.equal((await fetch(`${admin.url}/status`)).status, 401)
      const elsewhere = await fetch(`http://127.0.0.1:${admin.port}/work`)
      assert.equal(elsewhere.status, 404)
      assert.equal(
        ((await elsewhere.json()) as { error: { code: string } }).error.code,
        'ERR_TRIPWIRE_NOT_FOUND',
      )

      // the application's port knows nothing of it: the app's own 404
      assert.equal((await fetch(`${appUrl}/_tripwire/status`, { headers: bearer() })).status, 404)
      assert.equal(await (await fetch(`${appUrl}/work`)).text(), 'ok')
    } finally {
      await middleware.tripwire.close()
      server.close()
    }
    // closing the controller closes its listener
    const { port } = await middleware.tripwire.adminAddress()
    await assert.rejects(fetch(`http://127.0.0.1:${port}/_tripwire/status`))
  })

  test('Fastify: no admin routes on the application; the listener serves them', async () => {
    const app = Fastify()
    await app.register(fastifyTripwire, await options())
    app.get('/work', async () => 'ok')
    await app.listen({ port: 0, host: '127.0.0.1' })
    try {
      assert.doesNotMatch(app.printRoutes(), /_tripwire/)
      const admin = await app.tripwire.adminAddress()
      assert.equal((await fetch(`${admin.url}/captures`, { headers: bearer() })).status, 200)
      const appPort = (app.server.address() as AddressInfo).port
      assert.equal(
        (await fetch(`http://127.0.0.1:${appPort}/_tripwire/status`, { headers: bearer() })).status,
        404,
      )
    } finally {
      await app.close()
    }
  })

  test('a port in use is a coded error from adminAddress(), logged, and the service still starts', async () => {
    const first = createTripwire(await options())
    const { port } = await first.adminAddress()
    const errors: string[] = []
    const second = createTripwire({
      ...(await options()),
      admin: { listen: { port } },
      logger: { debug() {}, info() {}, warn() {}, error: (message) => void errors.push(message) },
    })
    try {
      await assert.rejects(second.adminAddress(), { code: 'ERR_TRIPWIRE_ADMIN_LISTEN_FAILED' })
      assert.ok(errors.some((line) => /admin listener failed/.test(line)))
      assert.equal((await (await second.start({ durationMs: 10 })).done).status, 'completed')
    } finally {
      await Promise.all([first.close(), second.close()])
    }
  })

  test('without admin.listen there is no listener to ask for; bad options are refused', async () => {
    const plain = createTripwire({ ...(await options()), admin: {} })
    await assert.rejects(plain.adminAddress(), { code: 'ERR_TRIPWIRE_INVALID_REQUEST' })
    await plain.close()
    for (const listen of [{}, { port: -1 }, { port: 70_000 }, { port: 0, hots: 'x' }]) {
      assert.throws(
        () =>
          createTripwire({
            service: SERVICE,
            keys: [{ kid: 'k1', secret: SECRET }],
            admin: { listen } as never,
          }),
        /admin\.listen/,
      )
    }
  })
})
