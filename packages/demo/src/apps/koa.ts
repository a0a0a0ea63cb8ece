import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import Router from '@koa/router'
import Koa from 'koa'
import { tripwire } from '@tripwire/koa'
import { checkout, type StartShop } from './shop.js'

export const startKoaShop: StartShop = async (options) => {
  const app = new Koa()
  const middleware = tripwire(options)
  app.use(middleware)
  const router = new Router()
  router.get('/checkout', (ctx) => {
    ctx.body = checkout()
  })
  app.use(router.routes())
  const server = app.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    controller: middleware.tripwire,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
