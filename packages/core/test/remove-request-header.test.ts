import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, request, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { removeRequestHeader } from '../src/trigger/remove-request-header.js'

interface Seen {
  headers: Record<string, unknown>
  rawHeaders: string[]
  distinct: Record<string, string[]>
}

/**
 * A real server that takes `name` out of every request, then reports what the application can read of it.
 * `before` reads parts of the request first, as a framework may have.
 */
async function seenAfterRemoval(
  sent: [string, string][],
  remove: (req: IncomingMessage) => void,
  before: (req: IncomingMessage) => void = () => {},
): Promise<Seen> {
  const server = createServer((req, res) => {
    let seen: Seen | { error: string }
    try {
      before(req)
      remove(req)
      const distinct = { ...req.headersDistinct } as Record<string, string[]>
      seen = { headers: req.headers, rawHeaders: req.rawHeaders, distinct }
    } catch (error) {
      seen = { error: String(error) }
    }
    res.end(JSON.stringify(seen))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  try {
    const body = await new Promise<string>((resolve, reject) => {
      // a flat list sends repeated names as they are, in this order (and no Host unless given)
      const headers = [['Host', `127.0.0.1:${port}`], ...sent].flat()
      const req = request({ host: '127.0.0.1', port, path: '/', agent: false, headers })
      req.on('response', (res) => {
        if (res.statusCode !== 200) reject(new Error(`the test server answered ${res.statusCode}`))
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (text += chunk))
        res.on('end', () => resolve(text))
      })
      req.on('error', reject)
      req.end()
    })
    const seen = JSON.parse(body) as Seen | { error: string }
    if ('error' in seen) assert.fail(`the removal, or reading the request after it, threw: ${seen.error}`)
    return seen
  } finally {
    server.close()
  }
}

const SENT: [string, string][] = [
  ['Accept', 'text/plain'],
  ['X-Trigger-Profile', 'a.b.c'],
  ['X-Request-Id', 'r-1'],
  ['x-trigger-profile', 'd.e.f'],
  ['Cookie', 'a=1'],
]

function assertRemovedAndRestKept(seen: Seen): void {
  assert.equal(seen.headers['x-trigger-profile'], undefined)
  assert.equal(seen.distinct['x-trigger-profile'], undefined)
  assert.ok(!seen.rawHeaders.some((name) => name.toLowerCase() === 'x-trigger-profile'))
  assert.equal(seen.headers['x-request-id'], 'r-1')
  assert.equal(seen.headers.cookie, 'a=1')
  assert.deepEqual(seen.distinct.accept, ['text/plain'])
  assert.deepEqual(seen.distinct['x-request-id'], ['r-1'])
  assert.deepEqual(seen.distinct.cookie, ['a=1'])
  assert.ok(seen.distinct.host !== undefined)
  assert.equal(seen.rawHeaders.length, Object.keys(seen.distinct).length * 2)
}

test('every occurrence leaves headers, rawHeaders and headersDistinct, and the other headers stay readable', async () => {
  assertRemovedAndRestKept(
    await seenAfterRemoval(SENT, (req) => removeRequestHeader(req, 'x-trigger-profile')),
  )
})

test('a headersDistinct read before the removal loses the header too', async () => {
  assertRemovedAndRestKept(
    await seenAfterRemoval(
      SENT,
      (req) => removeRequestHeader(req, 'x-trigger-profile'),
      (req) => void req.headersDistinct,
    ),
  )
})

test('without the parser count field, headersDistinct is built first and the header deleted from it', async () => {
  assertRemovedAndRestKept(
    await seenAfterRemoval(SENT, (req) => removeRequestHeader(req, 'x-trigger-profile', undefined)),
  )
})

test('a request without the header is left as it came', async () => {
  const sent: [string, string][] = [
    ['Accept', '*/*'],
    ['X-Request-Id', 'r-2'],
  ]
  const seen = await seenAfterRemoval(sent, (req) => removeRequestHeader(req, 'x-trigger-profile'))
  assert.deepEqual(seen.distinct['x-request-id'], ['r-2'])
  assert.equal(seen.rawHeaders.length, Object.keys(seen.distinct).length * 2)
  assert.ok(seen.rawHeaders.includes('X-Request-Id'))
})
