/** The conformance suite against Express 5 and Express 4 (installed as the npm alias `express4`). */
import type { AddressInfo } from 'node:net'
import { once } from 'node:events'
import express5 from 'express'
import express4 from 'express4'
import { tripwire } from '@tripwire/express'
import type { CreateApp } from './conformance/app-contract.js'
import { headersResponse, slowResponse, workResponse, writeStream } from './conformance/app-contract.js'
import { defineConformanceSuite } from './conformance/suite.js'

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
    app.get('/headers', (req, res) => void res.json(headersResponse(req.headers)))
    const api = express.Router()
    api.get('/items/:id', (req, res) => void res.json({ id: req.params.id }))
    app.use('/api', api)
    const server = app.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const { port } = server.address() as AddressInfo
    return {
      url: `http://127.0.0.1:${port}`,
      controller: middleware.tripwire,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    }
  }
}

defineConformanceSuite('express 5', expressApp(express5))
defineConformanceSuite('express 4', expressApp(express4))
