import express from 'express'
import { tripwire } from '@tripwire/express'
import { checkout, shopOnLoopback, type StartShop } from './shop.js'

export const startExpressShop: StartShop = async (options) => {
  const app = express()
  const middleware = tripwire(options)
  app.use(middleware)
  app.get('/checkout', (_req, res) => void res.json(checkout()))
  return shopOnLoopback(app.listen(0, '127.0.0.1'), middleware.tripwire)
}
