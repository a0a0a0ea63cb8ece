import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import express from 'express'
import { tripwire } from '@tripwire/express'
import { checkout, type StartShop } from './shop.js'

export const startExpressShop: StartShop = async (options) => {
  const app = express()
  const middleware = tripwire(options)
  app.use(middleware)
  app.get('/checkout', (_req, res) => void res.json(checkout()))
  const server = app.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    controller: middleware.tripwire,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
