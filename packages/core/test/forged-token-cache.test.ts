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

  test('keeps no token longer than its length bound', () => {
    const cache = new ForgedTokenCache(3, 10)
    cache.remember('x'.repeat(11))
    cache.remember('y'.repeat(10))
    assert.equal(cache.has('x'.repeat(11)), false)
    assert.equal(cache.has('y'.repeat(10)), true)
  })
})
