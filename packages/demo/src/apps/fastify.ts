import Fastify from 'fastify'
import { tripwire } from '@tripwire/fastify'
import { checkout, type StartShop } from './shop.js'

export const startFastifyShop: StartShop = async (options) => {
  const app = Fastify()
  await app.register(tripwire, options)
  app.get('/checkout', async () => checkout())
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  return { url, controller: app.tripwire, close: () => app.close() }
}
