import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ErrorCodes, TripwireError } from '../errors.js'
import type { Logger } from '../types.js'
import type { AdminHandler } from './admin-handler.js'
import { sendError } from './http-json.js'

/** Where the admin listener accepts connections. */
export interface AdminAddress {
  host: string
  port: number
  /** The admin API's base URL: `http://127.0.0.1:9464/_tripwire`. */
  url: string
}

/**
 * The admin API on a port of its own, for services that must not expose it on their public port. It serves
 * nothing else: any other path is a JSON 404.
 */
export class AdminListener {
  private readonly server: Server
  private readonly listening: Promise<AdminAddress>

  constructor(handler: AdminHandler, listen: { port: number; host: string }, prefix: string, logger: Logger) {
    const server = createServer((req, res) => {
      void handler(req, res).then((handled) => {
        if (!handled) {
          sendError(res, {
            code: ErrorCodes.NOT_FOUND,
            message: `this listener serves the Tripwire admin API under ${prefix} only`,
          })
        }
      })
    })
    this.server = server
    this.listening = (async () => {
      server.listen(listen.port, listen.host)
      try {
        await once(server, 'listening')
      } catch (error) {
        const failure = new TripwireError(
          ErrorCodes.ADMIN_LISTEN_FAILED,
          `the admin API cannot listen on ${listen.host}:${listen.port}: ${(error as Error).message}`,
          { cause: error },
        )
        logger.error('tripwire: the admin listener failed to start', failure.toJSON())
        throw failure
      }
      const { port } = server.address() as AddressInfo
      const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host
      return { host: listen.host, port, url: `http://${host}:${port}${prefix}` }
    })()
    // the failure is logged above and handed to whoever asks address(): it must not be an unhandled rejection
    this.listening.catch(() => undefined)
  }

  address(): Promise<AdminAddress> {
    return this.listening
  }

  async close(): Promise<void> {
    if (!this.server.listening) return
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    this.server.closeAllConnections()
    await closed
  }
}
