import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ForgedTokenCache } from '../src/auth/forged-token-cache.js'

describe('ForgedTokenCache', () => {
  test('remembers a token, once', () => {
    const cache = new ForgedTokenCache(4)
    assert.equal(cache.has('a.b.c'), false)
    cache.remember('a.b.c')
    cache.remember('a.b.c')
    assert.equal(cache.has('a.b.c'), true)
    assert.equal(cache.size, 1)
  })

  test('forgets the oldest token when full, and never holds more than its bound', () => {
    const cache = new ForgedTokenCache(3)
    for (const token of ['t1', 't2', 't3', 't4', 't5']) cache.remember(token)
    assert.equal(cache.size, 3)
    assert.deepEqual(
      ['t1', 't2', 't3', 't4', 't5'].map((token) => cache.has(token)),
      [false, false, true, true, true],
    )
  })

  test('tokens that share their last characters are told apart, whole', () => {
    const cache = new ForgedTokenCache(4)
    const signature = 'S'.repeat(43)
    const first = `header.payload-1.${signature}`
    const second = `header.payload-2.${signature}`
    cache.remember(first)
    assert.equal(cache.has(first), true)
    assert.equal(
      cache.has(second),
      false,
      'a different token with the same signature is never refused from here',
    )
    cache.remember(second)
    assert.equal(cache.has(second), true)
    assert.equal(cache.size, 1, "the two share a key: the newer took the older one's place")
    assert.equal(cache.has(first), false)
  })

  test('a token built fresh each time, as a server receives it, is found', () => {
    const cache = new ForgedTokenCache(4)
    const bytes = Buffer.from(`eyJhbGciOiJIUzI1NiJ9.${'p'.repeat(200)}.${'s'.repeat(43)}`)
    cache.remember(bytes.toString('latin1'))
    assert.equal(cache.has(bytes.toString('latin1')), true)
  })

  test('keeps no token longer than its length bound', () => {
    const cache = new ForgedTokenCache(3, 10)
    cache.remember('x'.repeat(11))
    cache.remember('y'.repeat(10))
    assert.equal(cache.has('x'.repeat(11)), false)
    assert.equal(cache.has('y'.repeat(10)), true)
  })
})
