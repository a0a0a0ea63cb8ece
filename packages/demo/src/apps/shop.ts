import { once } from 'node:events'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TripwireController, TripwireOptions } from '@tripwire/core'

/** A running shop, whichever framework serves it. */
export interface Shop {
  url: string
  controller: TripwireController
  close(): Promise<void>
}

export type StartShop = (options: TripwireOptions) => Promise<Shop>

// The slow route's work: a deliberately expensive shipping-quote search.
function quoteShipping(weightGrams: number, zones: number): number {
  let best = Number.POSITIVE_INFINITY
  for (let zone = 0; zone < zones; zone++) {
    let price = 0
    for (let step = 0; step < 20_000; step++) price += Math.sqrt(weightGrams * (step + 1)) / (zone + 1)
    best = Math.min(best, price)
  }
  return best
}

/** GET /checkout: what every framework's shop answers. */
export function checkout(): { items: number; shipping: number } {
  const cart = Array.from({ length: 25 }, (_, i) => ({ sku: `sku-${i}`, grams: 100 + i * 7 }))
  const quotes = cart.map((item) => quoteShipping(item.grams, 120))
  return { items: cart.length, shipping: Math.round(quotes.reduce((a, b) => a + b, 0)) }
}

/** A node:http server that `listen(0, '127.0.0.1')` started, as a Shop. */
export async function shopOnLoopback(server: Server, controller: TripwireController): Promise<Shop> {
  if (!server.listening) await once(server, 'listening')
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    controller,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
