import { once } from 'node:events'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TripwireController } from '@tripwire/core'
import type { ConformanceApp } from './app-contract.js'

/** Waits for a server that `listen(0, '127.0.0.1')` started, and describes it for the suite. */
export async function servedOnLoopback(
  server: Server,
  controller: TripwireController,
): Promise<ConformanceApp> {
  if (!server.listening) await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    controller,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        // a failed test may leave a keep-alive connection open: never let it hold the suite
        server.closeAllConnections()
      }),
  }
}
