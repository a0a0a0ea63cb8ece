/** The conformance suite against Koa 3 and Koa 2 (installed as the npm alias `koa2`), routed by @koa/router. */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import type { AddressInfo } from 'node:net'
import Router from '@koa/router'
import Koa3 from 'koa'
import Koa2 from 'koa2'
import { LocalDiskSink } from '@tripwire/core'
import { tripwire } from '@tripwire/koa'
import type { CreateApp } from './conformance/app-contract.js'
import { headersResponse, slowResponse, workResponse, writeStream } from './conformance/app-contract.js'
import { servedOnLoopback } from './conformance/serve.js'
import { defineConformanceSuite } from './conformance/suite.js'
import { HMAC_KID, SECRET, SERVICE, triggerToken } from './conformance/tokens.js'

type KoaConstructor = typeof Koa3

function koaApp(Koa: KoaConstructor): CreateApp {
  return async (options) => {
    const app = new Koa()
    const middleware = tripwire(options)
    app.use(middleware)
    const router = new Router()
    router.get('/work/:ms', (ctx) => {
      ctx.body = workResponse(ctx.params.ms!)
    })
    router.get('/slow/:ms', async (ctx) => {
      ctx.body = await slowResponse(ctx.params.ms!)
    })
    router.get('/health', (ctx) => {
      ctx.body = 'ok'
    })
    router.get('/stream', (ctx) => {
      ctx.respond = false
      writeStream(ctx.res)
    })
    router.get('/headers', (ctx) => {
      ctx.body = headersResponse(ctx.req)
    })
    const api = new Router()
    api.get('/items/:id', (ctx) => {
      ctx.body = { id: ctx.params.id }
    })
    router.use('/api', api.routes())
    app.use(router.routes())
    return servedOnLoopback(app.listen(0, '127.0.0.1'), middleware.tripwire)
  }
}

defineConformanceSuite('koa 3', koaApp(Koa3))
defineConformanceSuite('koa 2', koaApp(Koa2))

describe('koa specifics', () => {
  test('an error thrown downstream still ends a request-mode capture, with its route, and keeps the answer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tripwire-koa-'))
    const app = new Koa3()
    app.silent = true
    const middleware = tripwire({
      service: SERVICE,
      keys: [{ kid: HMAC_KID, secret: SECRET }],
      sink: new LocalDiskSink({ dir }),
      limits: { cooldownMs: 0 },
    })
    app.use(middleware)
    const router = new Router()
    router.get('/boom/:n', () => {
      workResponse('50')
      throw new Error('downstream failure')
    })
    app.use(router.routes())
    const server = app.listen(0, '127.0.0.1')
    await once(server, 'listening')
    try {
      const { port } = server.address() as AddressInfo
      const response = await fetch(`http://127.0.0.1:${port}/boom/1`, {
        headers: { 'x-trigger-profile': triggerToken() },
      })
      assert.equal(response.status, 500)
      await response.text()
      const id = response.headers.get('x-profile-id')!
      let meta = await middleware.tripwire.find(id)
      for (let i = 0; i < 100 && meta?.status === 'running'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20))
        meta = await middleware.tripwire.find(id)
      }
      assert.equal(meta?.status, 'completed')
      assert.deepEqual(meta.request, { method: 'GET', route: '/boom/:n' })
      // a refused token's answer is carried over the error response too (Koa clears headers set before it)
      const refused = await fetch(`http://127.0.0.1:${port}/boom/2`, {
        headers: { 'x-trigger-profile': 'garbage' },
      })
      assert.equal(refused.status, 500)
      assert.equal(refused.headers.get('x-profile-status'), 'rejected')
      await refused.text()
      // an error handler the application installs later is wrapped in turn, at its next request
      app.context.onerror = function (
        this: Koa3.Context,
        error: Error & { headers?: Record<string, string> },
      ) {
        if (error === null) return
        // as Koa's own does: what was set before the error goes, only error.headers are applied
        for (const name of this.res.getHeaderNames()) this.res.removeHeader(name)
        this.res.statusCode = 503
        for (const [name, value] of Object.entries(error.headers ?? {})) this.res.setHeader(name, value)
        this.res.end('custom')
      }
      const custom = await fetch(`http://127.0.0.1:${port}/boom/3`, {
        headers: { 'x-trigger-profile': 'garbage' },
      })
      assert.equal(custom.status, 503)
      assert.equal(custom.headers.get('x-profile-status'), 'rejected')
      assert.equal(await custom.text(), 'custom')
    } finally {
      await middleware.tripwire.close()
      server.close()
      await rm(dir, { recursive: true, force: true })
    }
  })

  test("the app's onerror is wrapped once, whatever a middleware sets on each ctx", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tripwire-koa-'))
    const app = new Koa3()
    // a middleware ahead of Tripwire that gives every ctx an onerror of its own
    app.use((ctx, next) => {
      ctx.onerror = () => undefined
      return next()
    })
    const middleware = tripwire({
      service: SERVICE,
      keys: [{ kid: HMAC_KID, secret: SECRET }],
      sink: new LocalDiskSink({ dir }),
    })
    app.use(middleware)
    app.use((ctx) => {
      ctx.body = 'ok'
    })
    const server = app.listen(0, '127.0.0.1')
    await once(server, 'listening')
    try {
      const { port } = server.address() as AddressInfo
      const get = async () => (await fetch(`http://127.0.0.1:${port}/`)).text()
      // compared as values: the handler is the app context's own property once wrapped
      const handler = () => Object.getOwnPropertyDescriptor(app.context, 'onerror')?.value as unknown
      await get()
      const wrapped = handler()
      assert.equal(typeof wrapped, 'function')
      for (let i = 0; i < 3; i++) assert.equal(await get(), 'ok')
      assert.equal(handler(), wrapped)
    } finally {
      await middleware.tripwire.close()
      server.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
