import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { ResponseTiming } from '../src/latency/response-timing.js'

interface Recorded {
  method: string
  route: string | undefined
  ms: number
}

/** A real server whose every request is timed; `respond` answers it. */
async function timedServer(
  timing: ResponseTiming,
  respond: (req: IncomingMessage, res: ServerResponse) => void,
  routeOf: (req: IncomingMessage) => string | undefined = (req) => `/route${req.url ?? ''}`,
) {
  const server = createServer((req, res) => {
    timing.start(req, res, routeOf, req)
    respond(req, res)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  const get = (path: string, method = 'GET') =>
    new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      })
      req.on('error', reject)
      req.end()
    })
  return { server, get, port }
}

test('a response is recorded once it has finished, with its method, route and latency', async () => {
  const recorded: Recorded[] = []
  const timing = new ResponseTiming((method, route, ms) => recorded.push({ method, route, ms }))
  const { server, get } = await timedServer(timing, (_req, res) => {
    setTimeout(() => res.end('ok'), 30)
  })
  try {
    assert.equal(await get('/slow', 'POST'), 200)
    // recorded once the response is handed to the socket, before the client has read it all
    assert.equal(recorded.length, 1)
    const [only] = recorded
    assert.equal(only!.method, 'POST')
    assert.equal(only!.route, '/route/slow')
    assert.ok(only!.ms >= 25 && only!.ms < 1000, `${only!.ms} ms`)
  } finally {
    server.close()
  }
})

test('a router that throws while naming the route records no route, and the response is unharmed', async () => {
  const recorded: Recorded[] = []
  const timing = new ResponseTiming((method, route, ms) => recorded.push({ method, route, ms }))
  const { server, get } = await timedServer(
    timing,
    (_req, res) => res.end('ok'),
    () => {
      throw new Error('router bug')
    },
  )
  try {
    assert.equal(await get('/x'), 200)
    assert.equal(recorded.length, 1)
    assert.equal(recorded[0]!.route, undefined)
  } finally {
    server.close()
  }
})

test('after close() nothing more is recorded, not even responses already being timed', async () => {
  const recorded: Recorded[] = []
  const timing = new ResponseTiming((method, route, ms) => recorded.push({ method, route, ms }))
  let arrived: (release: () => void) => void = () => {}
  const heldArrived = new Promise<() => void>((resolve) => (arrived = resolve))
  const { server, get } = await timedServer(timing, (req, res) => {
    if (req.url === '/held') arrived(() => res.end('late'))
    else res.end('ok')
  })
  try {
    assert.equal(await get('/first'), 200)
    const held = get('/held')
    const release = await heldArrived
    timing.close()
    release()
    assert.equal(await held, 200)
    assert.equal(await get('/after'), 200)
    assert.deepEqual(
      recorded.map((r) => r.route),
      ['/route/first'],
    )
  } finally {
    server.close()
  }
})

/** Sends a GET and closes the connection `afterMs` after the server saw the request. */
async function giveUp(port: number, path: string, arrived: Promise<unknown>, afterMs: number): Promise<void> {
  const req = request({ host: '127.0.0.1', port, path, agent: false })
  // not events.once: the 'socket hang up' error that destroying it emits would reject that
  const closed = new Promise<void>((resolve) => req.on('error', () => undefined).on('close', resolve))
  req.end()
  await arrived
  setTimeout(() => req.destroy(), afterMs)
  await closed
}

test('a request its client gives up on is recorded when the connection goes away: a hang counts as slow', async () => {
  const recorded: Recorded[] = []
  const timing = new ResponseTiming((method, route, ms) => recorded.push({ method, route, ms }))
  let arrive: (res: ServerResponse) => void = () => {}
  const arrived = new Promise<ServerResponse>((resolve) => (arrive = resolve))
  const { server, port } = await timedServer(timing, (_req, res) => arrive(res))
  try {
    await giveUp(port, '/hung', arrived, 150)
    const response = await arrived
    if (!response.destroyed) await once(response, 'close')
    assert.equal(recorded.length, 1, 'recorded once the client went away, without waiting for the handler')
    assert.equal(recorded[0]!.route, '/route/hung')
    assert.ok(recorded[0]!.ms >= 140 && recorded[0]!.ms < 5000, `${recorded[0]!.ms} ms`)
    // the handler answering at last changes nothing
    response.end('too late')
    await new Promise((resolve) => setTimeout(resolve, 20))
    assert.equal(recorded.length, 1)
  } finally {
    server.close()
  }
})

test('a response its client leaves after the answer began (a stream, a download) is not recorded', async () => {
  const recorded: Recorded[] = []
  const timing = new ResponseTiming((method, route, ms) => recorded.push({ method, route, ms }))
  let arrive: (res: ServerResponse) => void = () => {}
  const arrived = new Promise<ServerResponse>((resolve) => (arrive = resolve))
  const { server, port } = await timedServer(timing, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.write('data: first\n\n')
    arrive(res)
  })
  try {
    await giveUp(port, '/events', arrived, 100)
    const response = await arrived
    if (!response.destroyed) await once(response, 'close')
    assert.equal(recorded.length, 0, JSON.stringify(recorded))
  } finally {
    server.close()
  }
})
