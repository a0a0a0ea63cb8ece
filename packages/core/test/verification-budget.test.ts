import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { resolveKeySet } from '../src/auth/key-set.js'
import { verifyToken } from '../src/auth/token-verifier.js'
import { VerificationBudget } from '../src/auth/verification-budget.js'
import { mintToken } from '../src/auth/token-minter.js'
import { createTripwire, type TripwireController } from '../src/controller.js'
import { isTripwireError } from '../src/errors.js'
import { OptionChecker } from '../src/option-checks.js'
import { LocalDiskSink } from '../src/sinks/local-disk.js'
import { HeaderTrigger } from '../src/trigger/header-trigger.js'

const SECRET = 'the-right-secret-of-at-least-32-bytes!'
const FORGER = 'a-wrong-secret-of-at-least-32-bytes!!!'

describe('VerificationBudget', () => {
  test('allows so many per second, then refuses until the next second', () => {
    const budget = new VerificationBudget(3)
    assert.deepEqual(
      [0, 1, 2, 3, 999].map((ms) => budget.take(ms)),
      [true, true, true, false, false],
    )
    assert.equal(budget.take(1000), true)
    assert.equal(budget.take(1001), true)
  })

  test('spent() tells whether the second is spent without taking from it', () => {
    const budget = new VerificationBudget(1)
    assert.equal(budget.spent(0), false)
    assert.equal(budget.spent(1), false, 'asking takes nothing')
    assert.equal(budget.take(2), true)
    assert.equal(budget.spent(3), true)
    assert.equal(budget.spent(1002), false, 'a new second')
  })

  test('once spent, a token is refused before it is decoded, whatever its shape', () => {
    const spent = { take: () => assert.fail('nothing is taken'), spent: () => true }
    const keys = resolveKeySet(new OptionChecker('test'), [{ kid: 'k', secret: SECRET }])
    const expectations = {
      audience: 'checkout',
      issuers: undefined,
      maxLifetimeSec: 300,
      clockToleranceSec: 30,
      scope: 'profiles:trigger',
    }
    for (const token of [
      'not-a-token',
      'a.b.c',
      mintToken({ key: FORGER, kid: 'k', audience: 'checkout', scope: 'profiles:trigger', ttlSec: 60 }),
    ]) {
      assert.deepEqual(verifyToken(token, keys, expectations, Date.now() / 1000, spent), {
        ok: false,
        reason: 'over-verification-budget',
      })
    }
  })
})

describe('the header trigger checks at most token.maxVerificationsPerSec signatures a second', () => {
  let dir: string
  let controller: TripwireController
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tripwire-budget-'))
    controller = createTripwire({
      service: 'checkout',
      sink: new LocalDiskSink({ dir }),
      keys: [{ kid: 'k', secret: SECRET }],
      token: { maxVerificationsPerSec: 2 },
    })
  })
  after(async () => {
    await controller.close()
    await rm(dir, { recursive: true, force: true })
  })

  /** What a request carrying `token` is answered, and the reason counts after it. */
  const send = (trigger: HeaderTrigger, token: string) => {
    const headers: Record<string, string> = {}
    const req = { headers: { 'x-trigger-profile': token }, rawHeaders: ['X-Trigger-Profile', token] }
    const res = { headersSent: false, setHeader: (name: string, value: string) => (headers[name] = value) }
    const pending = trigger.beforeRequest(
      req as unknown as IncomingMessage,
      res as unknown as ServerResponse,
      () => undefined,
      undefined,
    )
    assert.equal(pending, undefined, 'a refused token never holds the request')
    return headers['x-profile-status']
  }
  const forged = () =>
    mintToken({ key: FORGER, kid: 'k', audience: 'checkout', scope: 'profiles:trigger', ttlSec: 60 })

  test('fresh forged tokens past the budget are refused unverified; garbage costs no budget', () => {
    const trigger = new HeaderTrigger(controller)
    // shape checks come first: malformed tokens and unknown kids never reach the budget
    for (let i = 0; i < 5; i++) assert.equal(send(trigger, `garbage-${i}`), 'rejected')
    const statuses = [forged(), forged(), forged(), forged()].map((token) => send(trigger, token))
    assert.deepEqual(statuses, ['rejected', 'rejected', 'rejected', 'rejected'])
    const { rejected } = trigger.status()
    assert.equal(rejected.malformed, 5)
    assert.equal(rejected['bad-signature'], 2)
    assert.equal(rejected['over-verification-budget'], 2)
  })

  test('a forged token already seen is refused without using the budget', () => {
    const trigger = new HeaderTrigger(controller)
    const token = forged()
    for (let i = 0; i < 5; i++) assert.equal(send(trigger, token), 'rejected')
    // the budget has one verification left this second: a fresh token is still verified
    assert.equal(send(trigger, forged()), 'rejected')
    const { rejected } = trigger.status()
    assert.equal(rejected['bad-signature'], 6)
    assert.equal(rejected['over-verification-budget'], undefined)
  })

  test('the option is checked', async () => {
    for (const value of [0, 1.5, '100', 2_000_000]) {
      assert.throws(
        () =>
          createTripwire({
            service: 'checkout',
            sink: new LocalDiskSink({ dir }),
            token: { maxVerificationsPerSec: value as number },
          }),
        (error) => isTripwireError(error) && /token\.maxVerificationsPerSec/.test(error.message),
      )
    }
  })
})
