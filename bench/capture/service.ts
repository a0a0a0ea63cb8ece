/**
 * The HTTP service the `cpu` and `rss` roles capture in: it serves the order workload on 127.0.0.1:0 and loads
 * itself with paced requests, so that a capture sees a service's event loop, sockets and handler work.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { LoadStats } from './protocol.js'
import { handleOrder } from './workload.js'

/**
 * Requests outstanding at once. Arrivals beyond it are counted as skipped rather than queued, so that an event
 * loop held up by a capture does not leave a burst of requests behind it.
 */
const MAX_IN_FLIGHT = 32

/** Serves the order workload and requests it of itself at `ratePerSec`, from start() until stop(). */
export class Service {
  private server: http.Server | undefined
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT })
  private timer: NodeJS.Timeout | undefined
  private startedAt = 0
  private cpuAtStart: NodeJS.CpuUsage | undefined
  private inFlight = 0
  private completed = 0
  private errors = 0
  private skipped = 0

  constructor(private readonly ratePerSec: number) {}

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      const seed = Number(req.url?.slice('/orders/'.length) ?? 0)
      const body = JSON.stringify({ total: handleOrder(seed) })
      res.writeHead(200, { 'content-type': 'application/json' }).end(body)
    })
    // Longer than any run: a keep-alive socket the server closes as the client reuses it would be an error
    server.keepAliveTimeout = 120_000
    this.server = server
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    this.startedAt = performance.now()
    this.cpuAtStart = process.cpuUsage()
    let issued = 0
    const tick = (): void => {
      const due = Math.floor(((performance.now() - this.startedAt) * this.ratePerSec) / 1000)
      for (; issued < due; issued++) {
        if (this.inFlight < MAX_IN_FLIGHT) this.send(port, issued)
        else this.skipped++
      }
      this.timer = setTimeout(tick, 2)
    }
    tick()
  }

  private send(port: number, seed: number): void {
    this.inFlight++
    const done = (ok: boolean): void => {
      this.inFlight--
      if (ok) this.completed++
      else this.errors++
    }
    http
      .get({ host: '127.0.0.1', port, path: `/orders/${seed}`, agent: this.agent }, (res) => {
        res.resume()
        res.once('end', () => done(res.statusCode === 200))
        res.once('error', () => done(false))
      })
      .once('error', () => done(false))
  }

  stats(): LoadStats {
    const elapsedMs = performance.now() - this.startedAt
    const cpu = process.cpuUsage(this.cpuAtStart)
    return {
      ratePerSec: Math.round((this.completed * 1000) / elapsedMs),
      cpuShare: (cpu.user + cpu.system) / 1000 / elapsedMs,
      errors: this.errors,
      skipped: this.skipped,
    }
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer)
    this.agent.destroy()
    const server = this.server
    if (server !== undefined) {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
