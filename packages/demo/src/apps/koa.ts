import Router from '@koa/router'
import Koa from 'koa'
import { tripwire } from '@tripwire/koa'
import { checkout, shopOnLoopback, type StartShop } from './shop.js'

export const startKoaShop: StartShop = async (options) => {
  const app = new Koa()
  const middleware = tripwire(options)
  app.use(middleware)
  const router = new Router()
  router.get('/checkout', (ctx) => {
    ctx.body = checkout()
  })
  app.use(router.routes())
  return shopOnLoopback(app.listen(0, '127.0.0.1'), middleware.tripwire)
}
