/**
 * The automatic triggers: the fire gate (cooldown and cap per rule), route patterns, option validation, and
 * SLO rules driven deterministically through a controller (`recordLatency` + `evaluateTriggers`). The event-loop
 * and heap rules need a process of their own: see test/automatic-scenarios.test.ts.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { FireGate } from '../src/automatic/fire-gate.js'
import { compileRoutePattern } from '../src/automatic/route-pattern.js'
import {
  createTripwire,
  ErrorCodes,
  isTripwireError,
  LocalDiskSink,
  type Logger,
  type RuleStatus,
  type TripwireController,
  type TripwireOptions,
} from '../src/index.js'

const ROOT = fileURLToPath(new URL('../../..', import.meta.url))
const CORE_DIST = join(ROOT, 'packages', 'core', 'dist', 'index.js')

let root: string
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tripwire-automatic-'))
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

let dirCount = 0
/**
 * A controller over a fresh directory. The evaluation timer is slowed to a minute so that only the test's own
 * `evaluateTriggers()` calls evaluate; the controller-wide cooldown is off unless a test is about it.
 */
async function controllerFor(options: Partial<TripwireOptions> = {}): Promise<TripwireController> {
  const dir = await mkdtemp(join(root, `c${dirCount++}-`))
  return createTripwire({
    service: 'checkout',
    version: '1.2.3',
    sink: new LocalDiskSink({ dir }),
    ...options,
    limits: { cooldownMs: 0, ...options.limits },
    triggers: { evaluateEveryMs: 60_000, ...options.triggers },
  })
}

/** Runs `body` with a controller, and closes the controller whatever happens. */
async function withController(
  options: Partial<TripwireOptions>,
  body: (tripwire: TripwireController) => Promise<void>,
): Promise<void> {
  const tripwire = await controllerFor(options)
  try {
    await body(tripwire)
  } finally {
    await tripwire.close()
  }
}

function record(tripwire: TripwireController, method: string, route: string, ms: number, times: number) {
  for (let i = 0; i < times; i++) tripwire.recordLatency(method, route, ms)
}

function ruleStatus(tripwire: TripwireController, name: string): RuleStatus {
  const rule = tripwire.status().rules.find((candidate) => candidate.name === name)
  assert.ok(rule !== undefined, `no rule named ${name}`)
  return rule
}

/** createTripwire throws ERR_TRIPWIRE_INVALID_OPTIONS with a message matching `message`. */
function assertInvalid(options: Record<string, unknown>, message: RegExp): void {
  assert.throws(
    () => createTripwire({ service: 'checkout', sink: new LocalDiskSink({ dir: root }), ...options }),
    (error: unknown) => {
      assert.ok(isTripwireError(error), `expected a TripwireError, got ${String(error)}`)
      assert.equal(error.code, ErrorCodes.INVALID_OPTIONS)
      assert.match(error.message, message)
      return true
    },
  )
}

const usersRule = { route: 'GET /users/:id', thresholdMs: 250 }

class MemoryLogger implements Logger {
  readonly lines: { level: string; message: string; fields: Record<string, unknown> | undefined }[] = []
  debug = (message: string, fields?: Record<string, unknown>) => this.push('debug', message, fields)
  info = (message: string, fields?: Record<string, unknown>) => this.push('info', message, fields)
  warn = (message: string, fields?: Record<string, unknown>) => this.push('warn', message, fields)
  error = (message: string, fields?: Record<string, unknown>) => this.push('error', message, fields)
  private push(level: string, message: string, fields: Record<string, unknown> | undefined): void {
    this.lines.push({ level, message, fields })
  }
}

describe('FireGate', () => {
  test('the cooldown blocks a re-fire until it has passed', () => {
    const gate = new FireGate(1000, { count: 10, perMs: 3_600_000 })
    assert.equal(gate.state(0), 'armed')
    assert.equal(gate.opensInMs(0), 0)
    gate.record(100)
    assert.equal(gate.state(100), 'cooling-down')
    assert.equal(gate.state(1099), 'cooling-down')
    assert.equal(gate.opensInMs(600), 500)
    assert.equal(gate.opensInMs(1099.5), 1, 'rounded up: never 0 while still closed')
    assert.equal(gate.state(1100), 'armed')
    assert.equal(gate.opensInMs(1100), 0)
    assert.equal(gate.left(1100), 9)
  })

  test('`count` fires per sliding `perMs`, then exhausted until the oldest fire leaves the window', () => {
    const gate = new FireGate(0, { count: 3, perMs: 10_000 })
    assert.equal(gate.left(0), 3)
    gate.record(0)
    gate.record(2000)
    assert.equal(gate.state(2000), 'armed')
    assert.equal(gate.left(2000), 1)
    gate.record(4000)
    assert.equal(gate.state(4000), 'exhausted')
    assert.equal(gate.left(4000), 0)
    assert.equal(gate.opensInMs(4000), 6000, 'the fire at 0 leaves the window at 10000')
    assert.equal(gate.state(9999), 'exhausted')
    // sliding, not fixed: at 10000 only the first fire is forgotten
    assert.equal(gate.state(10_000), 'armed')
    assert.equal(gate.left(10_000), 1)
    gate.record(10_000)
    assert.equal(gate.state(10_000), 'exhausted')
    assert.equal(gate.opensInMs(10_000), 2000, 'the fire at 2000 is next to leave')
    // all forgotten once a whole window has passed since the last fire
    assert.equal(gate.left(20_000), 3)
    assert.equal(gate.state(20_000), 'armed')
    assert.equal(gate.opensInMs(20_000), 0)
  })

  test('a gate both cooling down and exhausted says cooling-down and opens at the later of the two', () => {
    const gate = new FireGate(5000, { count: 1, perMs: 2000 })
    gate.record(0)
    assert.equal(gate.state(1000), 'cooling-down')
    assert.equal(gate.opensInMs(1000), 4000, 'the cooldown is the later bound')
    assert.equal(gate.left(1000), 0)
    assert.equal(gate.left(2000), 1, 'the window forgot the fire; the cooldown still holds')
    assert.equal(gate.state(2000), 'cooling-down')
    assert.equal(gate.state(5000), 'armed')

    const capped = new FireGate(100, { count: 1, perMs: 2000 })
    capped.record(0)
    assert.equal(capped.state(500), 'exhausted')
    assert.equal(capped.opensInMs(500), 1500, 'the cap is the later bound')
  })
})

describe('compileRoutePattern', () => {
  test('a pattern without * matches exactly that route key', () => {
    const matches = compileRoutePattern('GET /users/:id')
    assert.equal(matches('GET /users/:id'), true)
    assert.equal(matches('GET /users/:id/orders'), false)
    assert.equal(matches('POST /users/:id'), false)
    assert.equal(matches('get /users/:id'), false)
  })

  test('`GET /api/*` matches everything under /api/ for GET only', () => {
    const matches = compileRoutePattern('GET /api/*')
    assert.equal(matches('GET /api/users'), true)
    assert.equal(matches('GET /api/users/:id/orders'), true)
    assert.equal(matches('GET /api/'), true)
    assert.equal(matches('GET /api'), false)
    assert.equal(matches('GET /apix/users'), false)
    assert.equal(matches('POST /api/users'), false)
  })

  test('`* /health` matches any method on exactly /health; `*` matches everything', () => {
    const health = compileRoutePattern('* /health')
    assert.equal(health('GET /health'), true)
    assert.equal(health('HEAD /health'), true)
    assert.equal(health('GET /healthz'), false)
    assert.equal(health('GET /api/health'), false)
    const all = compileRoutePattern('*')
    for (const key of ['GET /', 'DELETE /users/:id', 'other', 'GET (unmatched route)'])
      assert.equal(all(key), true, key)
  })

  test('regex metacharacters in a route are literal', () => {
    const exact = compileRoutePattern('GET /a.b/(x)')
    assert.equal(exact('GET /a.b/(x)'), true)
    assert.equal(exact('GET /aXb/(x)'), false)
    assert.equal(exact('GET /a.b/x'), false)
    const wild = compileRoutePattern('GET /a.b/(x)+?|[y]{2}$^\\/*')
    assert.equal(wild('GET /a.b/(x)+?|[y]{2}$^\\/anything'), true)
    assert.equal(wild('GET /aXb/(x)+?|[y]{2}$^\\/anything'), false)
    assert.equal(wild('GET /a.b/xx?|[y]{2}$^\\/anything'), false)
  })
})

describe('options', () => {
  test('every default is filled in, and the capture duration is capped at limits.maxDurationMs', async () => {
    await withController(
      {
        slo: [{ route: 'GET /users/:id', thresholdMs: 250 }],
        eventLoop: { thresholdMs: 100 },
        heapPressure: {},
        triggers: {},
      },
      async (tripwire) => {
        const { triggers } = tripwire.config
        assert.deepEqual(triggers.slo, [
          {
            name: 'p99 GET /users/:id',
            route: 'GET /users/:id',
            exclude: [],
            quantile: 0.99,
            thresholdMs: 250,
            windowMs: 60_000,
            minSamples: 100,
            capture: { kind: 'cpu', durationMs: 10_000 },
            cooldownMs: 300_000,
            maxCaptures: { count: 3, perMs: 3_600_000 },
          },
        ])
        assert.deepEqual(triggers.eventLoop, {
          thresholdMs: 100,
          windowMs: 10_000,
          capture: { kind: 'cpu', durationMs: 10_000 },
          cooldownMs: 300_000,
          maxCaptures: { count: 3, perMs: 3_600_000 },
        })
        assert.deepEqual(triggers.heap, {
          usedFraction: 0.85,
          capture: { kind: 'heap', durationMs: 10_000 },
          snapshotOnce: false,
          cooldownMs: 600_000,
          maxCaptures: { count: 3, perMs: 3_600_000 },
        })
        assert.equal(triggers.dryRun, false)
        assert.equal(triggers.maxTrackedRoutes, 100)
      },
    )
    await withController(
      {
        slo: [{ route: '*', thresholdMs: 250, quantile: 0.999 }],
        limits: { maxDurationMs: 5000 },
      },
      async (tripwire) => {
        const [rule] = tripwire.config.triggers.slo
        assert.equal(rule?.name, 'p99.9 *')
        assert.deepEqual(rule?.capture, { kind: 'cpu', durationMs: 5000 }, 'capped at maxDurationMs')
      },
    )
    const tripwire = createTripwire({ service: 'checkout', sink: new LocalDiskSink({ dir: root }) })
    try {
      assert.equal(tripwire.config.triggers.evaluateEveryMs, 1000)
      assert.deepEqual(tripwire.config.triggers.slo, [])
      assert.equal(tripwire.config.triggers.eventLoop, undefined)
      assert.equal(tripwire.config.triggers.heap, undefined)
      assert.deepEqual(tripwire.status().rules, [])
    } finally {
      await tripwire.close()
    }
  })

  test('a capture duration over limits.maxDurationMs is refused, not clamped', () => {
    assertInvalid(
      {
        limits: { maxDurationMs: 5000 },
        slo: [{ route: '*', thresholdMs: 1, capture: { durationMs: 6000 } }],
      },
      /"slo\[0\]\.capture\.durationMs" must be a whole number from 1 to 5000, got 6000/,
    )
  })

  test('each mistake is refused with ERR_TRIPWIRE_INVALID_OPTIONS and a message naming the option', () => {
    assertInvalid({ slo: [{ route: 'GET /users/:id' }] }, /"slo\[0\]\.thresholdMs" is required/)
    assertInvalid(
      { slo: [{ route: 'GET /users/:id', thresholdMs: 250, quantile: 0.3 }] },
      /"slo\[0\]\.quantile" must be a number from 0\.5 to 0\.999, got 0\.3/,
    )
    assertInvalid(
      { slo: [{ route: 'GET /users/:id', thresholdMs: 250, quantile: 1 }] },
      /"slo\[0\]\.quantile" must be a number from 0\.5 to 0\.999, got 1/,
    )
    assertInvalid(
      { slo: [{ route: 'users', thresholdMs: 250 }] },
      /"slo\[0\]\.route" must be "METHOD \/template" \(e\.g\. "GET \/users\/:id"\), "GET \/api\/\*" or "\*", got "users"/,
    )
    assertInvalid(
      {
        slo: [
          { route: 'GET /a', thresholdMs: 1 },
          { route: '*', thresholdMs: 250, capture: { kind: 'heapsnapshot' } },
        ],
      },
      /"slo\[1\]\.capture\.kind" must be "cpu" or "heap", got "heapsnapshot"/,
    )
    assertInvalid(
      {
        slo: [
          { name: 'users', route: 'GET /users/:id', thresholdMs: 250 },
          { name: 'users', route: 'GET /users', thresholdMs: 500 },
        ],
      },
      /"slo" has two rules named "users": give each a distinct name/,
    )
    assertInvalid(
      {
        slo: [
          { route: 'GET /users/:id', thresholdMs: 250 },
          { route: 'GET /users/:id', thresholdMs: 500 },
        ],
      },
      /two rules named "p99 GET \/users\/:id"/,
    )
    assertInvalid({ slo: {} }, /"slo" must be an array of rules such as \[\{ route: "GET \/users\/:id"/)
    assertInvalid(
      { slo: [{ route: 'GET /users/:id', tresholdMs: 250 }] },
      /"slo\[0\]\.tresholdMs" is not known; did you mean "thresholdMs"\?/,
    )
    // a further-off typo gets the list of known options, which names the right one
    assertInvalid(
      { slo: [{ route: 'GET /users/:id', treshold: 250 }] },
      /"slo\[0\]\.treshold" is not known; did you mean "thresholdMs"\?/,
    )
    assertInvalid(
      { eventLoop: { thresholdMs: 50, windwMs: 1000 } },
      /"eventLoop\.windwMs" is not known; did you mean "windowMs"\?/,
    )
    assertInvalid({ triggers: { dryrun: true } }, /"triggers\.dryrun" is not known; did you mean "dryRun"\?/)
    assertInvalid(
      { heapPressure: { snapshotOnce: true } },
      /"heapPressure\.snapshotOnce" needs heapSnapshot: \{ enabled: true \}/,
    )
    assertInvalid({ eventLoop: {} }, /"eventLoop\.thresholdMs" is required/)
    assertInvalid({ eventLoop: { windowMs: 1000 } }, /"eventLoop\.thresholdMs" is required/)
    assertInvalid(
      { heapPressure: { usedFraction: 1.5 } },
      /"heapPressure\.usedFraction" must be a number from 0\.05 to 0\.99/,
    )
    assertInvalid(
      { triggers: { evaluateEveryMs: 10 } },
      /"triggers\.evaluateEveryMs" must be a whole number from 50/,
    )
  })

  test('snapshotOnce with heap snapshots enabled is accepted', async () => {
    await withController(
      { heapPressure: { snapshotOnce: true }, heapSnapshot: { enabled: true } },
      async (tripwire) => {
        assert.equal(tripwire.config.triggers.heap?.snapshotOnce, true)
      },
    )
  })
})

describe('SLO rules', () => {
  test('a breach starts a window capture that names the rule, the route and what was seen', async () => {
    await withController({ slo: [usersRule] }, async (tripwire) => {
      record(tripwire, 'GET', '/users/:id', 300, 150)
      await tripwire.evaluateTriggers()
      const running = tripwire.current()
      assert.ok(running !== undefined, 'a capture is running')
      assert.deepEqual(running.trigger, {
        type: 'slo',
        subject: 'p99 GET /users/:id',
        reason: 'p99 300ms > 250ms on GET /users/:id (window 60s, n=150)',
      })
      assert.equal(running.kind, 'cpu')
      assert.deepEqual(running.requested, { durationMs: 10_000, mode: 'window', samplingIntervalUs: 3300 })
      assert.deepEqual(running.request, { method: 'GET', route: '/users/:id' })
      assert.deepEqual(running.slo, {
        route: 'GET /users/:id',
        quantile: 0.99,
        thresholdMs: 250,
        observedMs: 300,
        windowMs: 60_000,
        samples: 150,
      })

      const rule = ruleStatus(tripwire, 'p99 GET /users/:id')
      assert.equal(rule.type, 'slo')
      assert.equal(rule.state, 'cooling-down')
      assert.equal(rule.breaching, true)
      assert.equal(rule.fired, 1)
      assert.equal(rule.wouldHaveFired, 0)
      assert.equal(rule.capturesLeft, 2)
      assert.ok(rule.opensInMs > 299_000 && rule.opensInMs <= 300_000, `opensInMs ${rule.opensInMs}`)
      assert.ok(rule.lastFiredAt !== null && Math.abs(Date.parse(rule.lastFiredAt) - Date.now()) < 5000)
      assert.equal(rule.lastRefusal, null)
      assert.deepEqual(rule.observed, {
        routesWatched: 1,
        worst: { routeKey: 'GET /users/:id', valueMs: 300, samples: 150 },
      })

      const stored = await tripwire.stop(running.id)
      assert.equal(stored.status, 'completed')
      assert.deepEqual(stored.trigger, running.trigger)
      assert.deepEqual(stored.slo, running.slo)
      assert.deepEqual(stored.request, running.request)
      assert.equal((await tripwire.find(running.id))?.trigger.type, 'slo')

      // the breach goes on, but the rule's cooldown holds it back
      await tripwire.evaluateTriggers()
      assert.equal(tripwire.current(), undefined)
      assert.equal(tripwire.status().counters.started, 1)
    })
  })

  test('no verdict below minSamples; the quantile and threshold decide', async () => {
    await withController(
      { slo: [{ ...usersRule, name: 'users', quantile: 0.5, minSamples: 20 }] },
      async (tripwire) => {
        record(tripwire, 'GET', '/users/:id', 300, 19)
        await tripwire.evaluateTriggers()
        assert.equal(tripwire.current(), undefined, '19 samples are too few')
        let rule = ruleStatus(tripwire, 'users')
        assert.equal(rule.state, 'armed')
        assert.equal(rule.breaching, false)
        assert.deepEqual(rule.observed, { routesWatched: 1, worst: null })

        // 19 slow and 21 fast: the median is fast
        record(tripwire, 'GET', '/users/:id', 10, 21)
        await tripwire.evaluateTriggers()
        assert.equal(tripwire.current(), undefined, 'p50 is under the threshold')

        record(tripwire, 'GET', '/users/:id', 300, 10)
        await tripwire.evaluateTriggers()
        const running = tripwire.current()
        assert.equal(running?.trigger.reason, 'p50 300ms > 250ms on GET /users/:id (window 60s, n=50)')
        rule = ruleStatus(tripwire, 'users')
        assert.equal(rule.fired, 1)
      },
    )
  })

  test('a pattern rule leaves excluded routes out and names the worst of several breaching routes', async () => {
    await withController(
      {
        slo: [
          {
            name: 'all',
            route: '*',
            exclude: ['* /health', 'GET /internal/*'],
            thresholdMs: 250,
            minSamples: 10,
            capture: { kind: 'heap', durationMs: 2000 },
          },
        ],
      },
      async (tripwire) => {
        record(tripwire, 'GET', '/health', 9000, 50)
        record(tripwire, 'HEAD', '/health', 9000, 50)
        record(tripwire, 'GET', '/internal/metrics', 9000, 50)
        await tripwire.evaluateTriggers()
        assert.equal(tripwire.current(), undefined, 'excluded routes never fire')
        assert.deepEqual(ruleStatus(tripwire, 'all').observed, { routesWatched: 0, worst: null })

        record(tripwire, 'GET', '/fast', 10, 50)
        record(tripwire, 'GET', '/a', 300, 50)
        record(tripwire, 'POST', '/b', 900, 50)
        record(tripwire, 'GET', '/c', 600, 50)
        record(tripwire, 'GET', '/too-few', 20_000, 9)
        await tripwire.evaluateTriggers()
        const running = tripwire.current()
        assert.ok(running !== undefined)
        assert.equal(running.kind, 'heap')
        assert.equal(running.requested.durationMs, 2000)
        assert.deepEqual(running.trigger, {
          type: 'slo',
          subject: 'all',
          reason: 'p99 900ms > 250ms on POST /b (window 60s, n=50)',
        })
        assert.deepEqual(running.request, { method: 'POST', route: '/b' })
        assert.equal(running.slo?.route, 'POST /b')
        assert.equal(ruleStatus(tripwire, 'all').observed.routesWatched, 5)
      },
    )
  })

  test('a rule refused because a capture is running stays armed and fires once that capture has stopped', async () => {
    await withController({ slo: [{ ...usersRule, name: 'users' }] }, async (tripwire) => {
      const manual = await tripwire.start({ kind: 'cpu' })
      record(tripwire, 'GET', '/users/:id', 300, 150)
      await tripwire.evaluateTriggers()
      assert.equal(tripwire.current()?.id, manual.id, 'the manual capture is still the one running')
      let rule = ruleStatus(tripwire, 'users')
      assert.equal(rule.lastRefusal?.code, ErrorCodes.BUSY)
      assert.ok(rule.lastRefusal !== null && !Number.isNaN(Date.parse(rule.lastRefusal.at)))
      assert.equal(rule.state, 'breaching')
      assert.equal(rule.fired, 0)
      assert.equal(rule.capturesLeft, 3, 'a refusal spends none of the rule’s captures')
      assert.equal(rule.opensInMs, 0)
      assert.equal(tripwire.status().counters.refused.busy, 1)

      // held back while the capture runs: no refusal per tick
      await tripwire.evaluateTriggers()
      await tripwire.evaluateTriggers()
      assert.equal(tripwire.status().counters.refused.busy, 1)

      await manual.stop()
      await tripwire.evaluateTriggers()
      const running = tripwire.current()
      assert.ok(running !== undefined && running.id !== manual.id, 'the rule fired once the lock was free')
      assert.equal(running.trigger.subject, 'users')
      rule = ruleStatus(tripwire, 'users')
      assert.equal(rule.fired, 1)
      assert.equal(rule.state, 'cooling-down')
      assert.equal(rule.capturesLeft, 2)
    })
  })

  test('a rule refused while a heap snapshot (no planned end) is taken spends nothing and fires after it', async () => {
    await withController(
      { slo: [{ ...usersRule, name: 'users' }], heapSnapshot: { enabled: true } },
      async (tripwire) => {
        record(tripwire, 'GET', '/users/:id', 300, 150)
        const snapshot = await tripwire.start({ kind: 'heapsnapshot' })
        await tripwire.evaluateTriggers()
        let rule = ruleStatus(tripwire, 'users')
        assert.equal(rule.lastRefusal?.code, ErrorCodes.BUSY)
        assert.equal(rule.state, 'breaching', 'not cooling down: a busy refusal is no fire')
        assert.equal(rule.capturesLeft, 3)
        assert.equal(tripwire.status().counters.refused.busy, 1)

        assert.equal((await snapshot.done).status, 'completed')
        await tripwire.evaluateTriggers()
        assert.equal(tripwire.current()?.trigger.subject, 'users', 'fired once the snapshot was done')
        rule = ruleStatus(tripwire, 'users')
        assert.equal(rule.fired, 1)
        assert.equal(rule.capturesLeft, 2)
        assert.equal(tripwire.status().counters.refused.busy, 1)
      },
    )
  })

  test('a refusal with retryAfterMs (the controller cooldown) holds the rule back until then', async () => {
    await withController(
      { slo: [{ ...usersRule, name: 'users' }], limits: { cooldownMs: 400 } },
      async (tripwire) => {
        const manual = await tripwire.start({ kind: 'cpu' })
        await manual.stop()
        const cooldownEndsAt = performance.now() + 400
        record(tripwire, 'GET', '/users/:id', 300, 150)
        await tripwire.evaluateTriggers()
        assert.equal(tripwire.current(), undefined)
        assert.equal(ruleStatus(tripwire, 'users').lastRefusal?.code, ErrorCodes.COOLDOWN)
        assert.equal(tripwire.status().counters.refused.cooldown, 1)

        await tripwire.evaluateTriggers()
        assert.equal(
          tripwire.status().counters.refused.cooldown,
          1,
          'held: not asked again before retryAfterMs',
        )

        await sleep(Math.max(0, cooldownEndsAt - performance.now()) + 50)
        await tripwire.evaluateTriggers()
        assert.equal(tripwire.current()?.trigger.subject, 'users', 'fired once retryAfterMs had passed')
        assert.equal(tripwire.status().counters.refused.cooldown, 1)
      },
    )
  })

  test('dry run logs and counts what would fire, starts nothing, and still applies the gate', async () => {
    const logger = new MemoryLogger()
    await withController(
      {
        logger,
        slo: [{ ...usersRule, name: 'users', cooldownMs: 0, maxCaptures: { count: 2, perMs: 3_600_000 } }],
        triggers: { dryRun: true },
      },
      async (tripwire) => {
        record(tripwire, 'GET', '/users/:id', 300, 150)
        await tripwire.evaluateTriggers()
        assert.equal(tripwire.current(), undefined)
        let status = tripwire.status()
        assert.equal(status.dryRun, true)
        assert.equal(status.counters.started, 0)
        let rule = ruleStatus(tripwire, 'users')
        assert.equal(rule.wouldHaveFired, 1)
        assert.equal(rule.fired, 0)
        assert.equal(rule.capturesLeft, 1)
        assert.ok(rule.lastFiredAt !== null)

        const lines = logger.lines.filter((line) => line.message.includes('would fire'))
        assert.equal(lines.length, 1)
        assert.equal(lines[0]?.level, 'info')
        assert.deepEqual(lines[0]?.fields, {
          rule: 'users',
          reason: 'p99 300ms > 250ms on GET /users/:id (window 60s, n=150)',
        })

        await tripwire.evaluateTriggers()
        await tripwire.evaluateTriggers()
        status = tripwire.status()
        rule = ruleStatus(tripwire, 'users')
        assert.equal(rule.wouldHaveFired, 2, 'the cap applies in dry run too')
        assert.equal(rule.state, 'exhausted')
        assert.equal(rule.capturesLeft, 0)
        assert.equal(status.counters.started, 0)
        assert.equal(logger.lines.filter((line) => line.message.includes('would fire')).length, 2)
      },
    )
  })

  test('dry run respects the rule cooldown', async () => {
    await withController(
      { logger: new MemoryLogger(), slo: [{ ...usersRule, name: 'users' }], triggers: { dryRun: true } },
      async (tripwire) => {
        record(tripwire, 'GET', '/users/:id', 300, 150)
        await tripwire.evaluateTriggers()
        await tripwire.evaluateTriggers()
        const rule = ruleStatus(tripwire, 'users')
        assert.equal(rule.wouldHaveFired, 1)
        assert.equal(rule.state, 'cooling-down')
        assert.ok(rule.opensInMs > 299_000, `opensInMs ${rule.opensInMs}`)
      },
    )
  })
})

describe('status()', () => {
  test('rules show name, type, state, captures left, when they open and what they observed', async () => {
    await withController(
      {
        slo: [usersRule, { name: 'api', route: 'GET /api/*', thresholdMs: 1000 }],
        eventLoop: { thresholdMs: 200 },
        heapPressure: { usedFraction: 0.99 },
      },
      async (tripwire) => {
        await tripwire.evaluateTriggers()
        const { rules } = tripwire.status()
        assert.deepEqual(
          rules.map(({ name, type, state, capturesLeft, opensInMs, fired }) => ({
            name,
            type,
            state,
            capturesLeft,
            opensInMs,
            fired,
          })),
          [
            {
              name: 'p99 GET /users/:id',
              type: 'slo',
              state: 'armed',
              capturesLeft: 3,
              opensInMs: 0,
              fired: 0,
            },
            { name: 'api', type: 'slo', state: 'armed', capturesLeft: 3, opensInMs: 0, fired: 0 },
            {
              name: 'event-loop delay',
              type: 'eventloop',
              state: 'armed',
              capturesLeft: 3,
              opensInMs: 0,
              fired: 0,
            },
            { name: 'heap pressure', type: 'heap', state: 'armed', capturesLeft: 3, opensInMs: 0, fired: 0 },
          ],
        )
        for (const rule of rules) {
          assert.equal(rule.breaching, false)
          assert.equal(rule.lastFiredAt, null)
          assert.equal(rule.lastRefusal, null)
          assert.equal(rule.wouldHaveFired, 0)
        }
        assert.deepEqual(rules[0]?.observed, { routesWatched: 0, worst: null })
        assert.deepEqual(rules[2]?.observed, { lastWindowP99Ms: null }, 'no window has ended yet')
        const heap = rules[3]?.observed as { usedFraction: number; usedBytes: number; limitBytes: number }
        assert.ok(heap.usedFraction > 0 && heap.usedFraction < 0.99)
        assert.ok(heap.usedBytes > 0 && heap.limitBytes > heap.usedBytes)
      },
    )
  })

  test('routes lists count and p50/p90/p99 per route template over the last minute', async () => {
    await withController({}, async (tripwire) => {
      for (let ms = 1; ms <= 100; ms++) tripwire.recordLatency('GET', '/users/:id', ms)
      record(tripwire, 'POST', '/orders', 40, 3)
      tripwire.recordLatency('GET', undefined, 7)
      const { routes } = tripwire.status()
      assert.deepEqual(
        routes.map((route) => [route.route, route.count]),
        [
          ['GET (unmatched route)', 1],
          ['GET /users/:id', 100],
          ['POST /orders', 3],
        ],
      )
      const users = routes[1]!
      const near = (actual: number, expected: number) =>
        assert.ok(Math.abs(actual - expected) <= expected * 0.05, `${actual} ≉ ${expected}`)
      near(users.p50, 50)
      near(users.p90, 90)
      near(users.p99, 99)
      const orders = routes[2]!
      assert.deepEqual(
        [orders.p50, orders.p90, orders.p99].map(Math.round),
        [40, 40, 40],
        'one value everywhere',
      )
    })
  })
})

describe('the evaluation timer', () => {
  test('is unref’d: a process with rules that never closes its controller exits on its own', async (t) => {
    await stat(CORE_DIST).catch(() => t.skip('packages/core/dist is missing: run `npm run build` first'))
    const sink = await mkdtemp(join(root, 'unref-'))
    const script = `
      import { createTripwire, LocalDiskSink } from '@tripwire/core'
      const tripwire = createTripwire({
        service: 'unref',
        sink: new LocalDiskSink({ dir: ${JSON.stringify(sink)} }),
        slo: [{ name: 'users', route: 'GET /users/:id', thresholdMs: 250 }],
        triggers: { evaluateEveryMs: 50 },
      })
      tripwire.recordLatency('GET', '/users/:id', 10)
      // one timer of the script's own, so that the trigger timer gets to tick before the process is idle
      setTimeout(() => {
        const [rule] = tripwire.status().rules
        process.stdout.write(JSON.stringify({ observed: rule.observed }) + '\\n')
      }, 300)
    `
    const startedAt = performance.now()
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '' },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once('error', reject)
      child.once('close', (exitCode, exitSignal) => resolve([exitCode, exitSignal]))
    }).finally(() => clearTimeout(killer))
    const elapsedMs = performance.now() - startedAt

    assert.deepEqual({ code, signal }, { code: 0, signal: null }, `the child was killed or failed: ${stderr}`)
    assert.ok(elapsedMs < 5000, `the child took ${Math.round(elapsedMs)} ms to exit`)
    const result = JSON.parse(stdout.trim()) as { observed: { routesWatched: number } }
    assert.equal(
      result.observed.routesWatched,
      1,
      'the timer did evaluate the rule before the process exited',
    )
  })
})
