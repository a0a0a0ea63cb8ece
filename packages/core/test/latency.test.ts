import assert from 'node:assert/strict'
import { createServer, request, Agent, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { before, describe, test } from 'node:test'
import { ErrorCodes, isTripwireError } from '../src/errors.js'
import { LogHistogram, type LatencyQuantiles } from '../src/latency/log-histogram.js'
import { OTHER_ROUTES, RouteLatencyTable, UNMATCHED_ROUTE } from '../src/latency/route-latency.js'
import { RouteLatencyTables } from '../src/latency/route-latency-tables.js'
import { SlidingLatencyWindow } from '../src/latency/sliding-window.js'

const QUANTILES = [0.5, 0.9, 0.99, 0.999]
const ALPHA = 0.01

/** mulberry32: a tiny seeded PRNG, so every stream is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function normal(random: () => number): number {
  // Box-Muller; 1 - random() keeps log() away from 0
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
}

function stream(n: number, seed: number, draw: (random: () => number) => number): number[] {
  const random = prng(seed)
  return Array.from({ length: n }, () => draw(random))
}

/** The nearest-rank quantile, the rule the estimator states: the value at rank max(1, ceil(q·n)). */
function exactQuantile(sorted: readonly number[], q: number): number {
  const rank = Math.max(1, Math.ceil(q * sorted.length))
  return sorted[rank - 1]!
}

/** Asserts every estimate is within α of the exact value and returns the worst relative error seen. */
function assertAccurate(name: string, values: readonly number[], estimator: LatencyQuantiles): number {
  const sorted = [...values].sort((a, b) => a - b)
  assert.equal(estimator.count, values.length)
  assert.equal(estimator.min, sorted[0])
  assert.equal(estimator.max, sorted.at(-1))
  let worst = 0
  for (const q of QUANTILES) {
    const exact = exactQuantile(sorted, q)
    const estimate = estimator.quantile(q)
    const error = Math.abs(estimate - exact) / exact
    worst = Math.max(worst, error)
    assert.ok(error <= ALPHA, `${name} q=${q}: estimate ${estimate} vs exact ${exact}, error ${error}`)
  }
  return worst
}

/** Records through the real sliding window, spread over 50 s of a 60 s window so merging is exercised. */
function throughWindow(values: readonly number[]): LatencyQuantiles {
  let now = 1_000_000
  const window = new SlidingLatencyWindow({ windowMs: 60_000, subWindows: 12, now: () => now })
  const step = 50_000 / values.length
  for (const value of values) {
    window.record(value)
    now += step
  }
  return window.snapshot()
}

async function recordRealRequests(count: number, concurrency: number): Promise<number[]> {
  const random = prng(7)
  const server: Server = createServer((_req, res) => {
    // Mostly timer waits (handlers awaiting I/O), some CPU burns, which also queue the requests behind them
    const finish = () => res.end('ok')
    if (random() < 0.7) {
      setTimeout(finish, random() * 6)
    } else {
      const until = performance.now() + random() * 3
      while (performance.now() < until);
      finish()
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  const durations: number[] = []
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const start = performance.now()
      const req = request({ host: '127.0.0.1', port, path: '/work', agent }, (res) => {
        res.resume()
        res.on('end', () => {
          durations.push(performance.now() - start)
          resolve()
        })
        res.on('error', reject)
      })
      req.on('error', reject)
      req.end()
    })
  let next = 0
  const worker = async () => {
    while (next++ < count) await one()
  }
  try {
    await Promise.all(Array.from({ length: concurrency }, worker))
  } finally {
    agent.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  return durations
}

describe('accuracy against exact nearest-rank quantiles', () => {
  const streams: [string, number[]][] = [
    // Typical HTTP: median 20 ms, a fat right shoulder
    ['lognormal', stream(100_000, 1, (r) => Math.exp(Math.log(20) + 0.8 * normal(r)))],
    // Cache hit around 2 ms, miss around 200 ms
    ['bimodal', stream(100_000, 2, (r) => (r() < 0.9 ? 2 : 200) * Math.exp(0.1 * normal(r)))],
    // Pareto with shape 1.2: a long tail reaching seconds
    ['pareto', stream(100_000, 3, (r) => 1 / Math.pow(1 - r(), 1 / 1.2))],
    ['constant', stream(10_000, 4, () => 42)],
    ['constant at a bucket edge', stream(10_000, 5, () => 1)],
    // Sub-millisecond work near the bottom of the range
    ['sub-millisecond', stream(50_000, 6, (r) => 0.02 + r() * r() * 0.5)],
  ]

  for (const [name, values] of streams) {
    test(`${name}: LogHistogram`, (t) => {
      const histogram = new LogHistogram()
      for (const value of values) histogram.record(value)
      t.diagnostic(`worst relative error ${assertAccurate(name, values, histogram).toFixed(5)}`)
    })
    test(`${name}: SlidingLatencyWindow`, (t) => {
      t.diagnostic(`worst relative error ${assertAccurate(name, values, throughWindow(values)).toFixed(5)}`)
    })
  }

  describe('a real recording', () => {
    let durations: number[] = []
    before(async () => {
      durations = await recordRealRequests(2000, 16)
    })

    test('2000 requests to a node:http server', (t) => {
      assert.equal(durations.length, 2000)
      const histogram = new LogHistogram()
      for (const value of durations) histogram.record(value)
      const worst = Math.max(
        assertAccurate('http', durations, histogram),
        assertAccurate('http window', durations, throughWindow(durations)),
      )
      t.diagnostic(`worst relative error ${worst.toFixed(5)}`)
    })
  })

  test('q = 0 and q = 1 are the exact min and max', () => {
    const values = stream(10_000, 8, (r) => 0.5 + r() * 900)
    const histogram = new LogHistogram()
    for (const value of values) histogram.record(value)
    const sorted = [...values].sort((a, b) => a - b)
    assert.ok(Math.abs(histogram.quantile(0) - sorted[0]!) / sorted[0]! <= ALPHA)
    assert.ok(Math.abs(histogram.quantile(1) - sorted.at(-1)!) / sorted.at(-1)! <= ALPHA)
  })

  test('merging histograms equals recording into one', () => {
    const values = stream(20_000, 9, (r) => Math.exp(3 * normal(r)))
    const whole = new LogHistogram()
    const parts = [new LogHistogram(), new LogHistogram(), new LogHistogram()]
    values.forEach((value, i) => {
      whole.record(value)
      parts[i % 3]!.record(value)
    })
    const merged = new LogHistogram()
    for (const part of parts) part.addTo(merged)
    assert.equal(merged.count, whole.count)
    for (const q of [0, 0.1, 0.5, 0.9, 0.99, 0.999, 1]) assert.equal(merged.quantile(q), whole.quantile(q))
    assert.throws(() => merged.addTo(new LogHistogram({ relativeAccuracy: 0.02 })), RangeError)
  })
})

describe('SlidingLatencyWindow', () => {
  function windowAt(start = 0) {
    const clock = { now: start }
    const window = new SlidingLatencyWindow({ windowMs: 60_000, subWindows: 12, now: () => clock.now })
    return { clock, window }
  }

  test('a value stops counting once its slice leaves the window, and never later than windowMs', () => {
    const { clock, window } = windowAt()
    for (let i = 0; i < 10; i++) window.record(5)
    clock.now = 59_999
    assert.equal(window.snapshot().count, 10)
    clock.now = 60_000
    assert.equal(window.snapshot().count, 0)
    assert.ok(Number.isNaN(window.snapshot().quantile(0.99)))
  })

  test('count is right on both sides of a slice boundary', () => {
    const { clock, window } = windowAt()
    clock.now = 4_999.999
    window.record(1)
    clock.now = 5_000
    window.record(2)
    assert.equal(window.snapshot().count, 2)
    clock.now = 59_999.999
    assert.equal(window.snapshot().count, 2)
    clock.now = 60_000
    assert.equal(window.snapshot().count, 1)
    assert.equal(window.snapshot().min, 2)
    clock.now = 64_999.999
    assert.equal(window.snapshot().count, 1)
    clock.now = 65_000
    assert.equal(window.snapshot().count, 0)
  })

  test('rotation across many slices keeps exactly the live slices', () => {
    const { clock, window } = windowAt()
    // One value per second whose latency is its own timestamp in seconds, for 300 s (25 windows)
    for (let s = 0; s <= 300; s++) {
      clock.now = s * 1000
      window.record(s + 1)
      const oldestLive = Math.max(0, 5 * (Math.floor(s / 5) - 11))
      const snapshot = window.snapshot()
      assert.equal(snapshot.count, s - oldestLive + 1, `at ${s} s`)
      assert.equal(snapshot.min, oldestLive + 1, `at ${s} s`)
      assert.equal(snapshot.max, s + 1, `at ${s} s`)
    }
  })

  test('values older than windowMs never count, whatever the timing', () => {
    const random = prng(11)
    const { clock, window } = windowAt(123_456)
    const times: number[] = []
    for (let i = 0; i < 20_000; i++) {
      clock.now += random() * random() * 200
      window.record(1 + random())
      times.push(clock.now)
      if (i % 97 !== 0) continue
      const count = window.snapshot().count
      const younger = (ageMs: number) => times.filter((t) => clock.now - t < ageMs).length
      assert.ok(count <= younger(60_000), `${count} counted, only ${younger(60_000)} younger than the window`)
      assert.ok(count >= younger(55_000), `${count} counted, ${younger(55_000)} younger than 55 s`)
    }
  })

  test('a long idle gap clears everything', () => {
    const { clock, window } = windowAt()
    for (let s = 0; s < 60; s++) {
      clock.now = s * 1000
      window.record(10)
    }
    clock.now += 30_000
    assert.ok(window.snapshot().count > 0)
    clock.now += 3_600_000
    window.record(7)
    const snapshot = window.snapshot()
    assert.equal(snapshot.count, 1)
    assert.equal(snapshot.quantile(0.5), 7)
  })

  test('snapshots do not accumulate, and a clock going backwards does not break counting', () => {
    const { clock, window } = windowAt(10_000)
    window.record(3)
    window.record(4)
    assert.equal(window.snapshot().count, 2)
    assert.equal(window.snapshot().count, 2)
    clock.now = 2_000
    window.record(5)
    assert.equal(window.snapshot().count, 3)
    assert.deepEqual(window.quantiles([0, 0.5, 1]).map(Math.round), [3, 4, 5])
  })

  test('a time passed to record() is used instead of reading the clock', () => {
    let reads = 0
    const window = new SlidingLatencyWindow({
      now: () => {
        reads++
        return 0
      },
    })
    window.record(1, 0)
    window.record(2, 61_000)
    assert.equal(reads, 1)
    // The recording at 61 s rotated the first slice out; the snapshot reads the clock, which is behind
    assert.equal(window.snapshot().count, 1)
  })

  test('invalid options are refused', () => {
    for (const options of [{ windowMs: 0 }, { subWindows: 1.5 }, { windwoMs: 1000 }]) {
      assert.throws(
        () => new SlidingLatencyWindow(options),
        (error) => isTripwireError(error) && error.code === ErrorCodes.INVALID_OPTIONS,
      )
    }
  })
})

describe('RouteLatencyTable', () => {
  test('the route cap holds under 10 000 distinct keys; the rest land in other and are counted', () => {
    const table = new RouteLatencyTable({ maxRoutes: 100, window: { now: () => 0 } })
    for (let i = 0; i < 10_000; i++) table.record('GET', `/items/${i}`, 1 + (i % 50))
    table.record('GET', '/items/0', 3)
    assert.equal(table.size, 101)
    const stats = table.stats()
    assert.equal(stats.length, 101)
    const other = stats.find((s) => s.route === OTHER_ROUTES)
    assert.equal(other?.count, 9_900)
    assert.equal(stats.find((s) => s.route === 'GET /items/0')?.count, 2)
    assert.equal(
      stats.reduce((sum, s) => sum + s.count, 0),
      10_001,
    )
    assert.ok(!stats.some((s) => s.route === 'GET /items/100'))
  })

  test('stats have the documented shape, sorted by route', () => {
    const table = new RouteLatencyTable({ window: { now: () => 0 } })
    for (let i = 1; i <= 100; i++) table.record('GET', '/users/:id', i)
    table.record('POST', '/users', 12)
    table.record('GET', undefined, 8)
    const stats = table.stats()
    assert.deepEqual(
      stats.map((s) => s.route),
      [`GET ${UNMATCHED_ROUTE}`, 'GET /users/:id', 'POST /users'],
    )
    const users = stats[1]!
    assert.deepEqual(Object.keys(users), ['route', 'count', 'p50', 'p90', 'p99'])
    assert.equal(users.count, 100)
    for (const [estimate, exact] of [
      [users.p50, 50],
      [users.p90, 90],
      [users.p99, 99],
    ] as const) {
      assert.ok(Math.abs(estimate - exact) / exact <= ALPHA, `${estimate} vs ${exact}`)
    }
    assert.deepEqual(
      [...table.routes()].map(([route]) => route),
      ['GET /users/:id', 'POST /users', `GET ${UNMATCHED_ROUTE}`],
    )
  })

  test('a time passed to record() reaches the route window', () => {
    const table = new RouteLatencyTable({ window: { now: () => 0 } })
    table.record('GET', '/a', 1, 0)
    table.record('GET', '/a', 2, 120_000)
    assert.equal(table.stats()[0]?.count, 1)
    assert.equal(table.stats()[0]?.p50, 2)
  })

  test('maxRoutes 0 sends everything to other', () => {
    const table = new RouteLatencyTable({ maxRoutes: 0 })
    table.record('GET', '/a', 1)
    table.record('PUT', '/b', 2)
    assert.equal(table.size, 1)
    assert.equal(table.stats()[0]?.route, OTHER_ROUTES)
    assert.equal(table.stats()[0]?.count, 2)
  })

  test('invalid options are refused at construction', () => {
    for (const options of [{ maxRoutes: -1 }, { window: { subWindows: 0 } }, { maxroutes: 5 }]) {
      assert.throws(
        () => new RouteLatencyTable(options),
        (error) => isTripwireError(error) && error.code === ErrorCodes.INVALID_OPTIONS,
      )
    }
  })
})

describe('RouteLatencyTables', () => {
  const countOf = (table: RouteLatencyTable, route: string): number | undefined =>
    table.stats().find((stats) => stats.route === route)?.count
  const tablesWith = (maxRoutes: number) =>
    new RouteLatencyTables((windowMs) => ({ maxRoutes, window: { windowMs, subWindows: 6, now: () => 0 } }))

  test('one record reaches the route in every table, each over its own window', () => {
    const tables = tablesWith(100)
    const minute = tables.table(60_000)
    const tenSeconds = tables.table(10_000)
    assert.equal(tables.table(60_000), minute, 'one table per window length')
    tables.record('GET', '/a', 5, 0)
    tables.record('GET', '/a', 7, 0)
    tables.record('POST', undefined, 9, 0)
    for (const table of [minute, tenSeconds]) {
      assert.equal(countOf(table, 'GET /a'), 2)
      assert.equal(countOf(table, `POST ${UNMATCHED_ROUTE}`), 1)
    }
    // 30 s later the 10 s window has let go of both, the minute still holds them
    tables.record('GET', '/a', 1, 30_000)
    assert.equal(minute.stats().find((s) => s.route === 'GET /a')?.count, 3)
    const tenSecondsStats = tenSeconds.routes()
    const a = [...tenSecondsStats].find(([route]) => route === 'GET /a')![1]
    assert.equal(a.snapshot().count, 1)
  })

  test('keys past the cap share OTHER_ROUTES in every table, and nothing is lost', () => {
    const tables = tablesWith(3)
    const [first, second] = [tables.table(60_000), tables.table(10_000)]
    for (let i = 0; i < 50; i++) tables.record('GET', `/items/${i % 10}`, 1, 0)
    for (const table of [first, second]) {
      assert.equal(table.size, 4)
      assert.equal(countOf(table, 'GET /items/0'), 5)
      assert.equal(countOf(table, OTHER_ROUTES), 35)
    }
  })

  test('a table added after traffic gets every later record, and the earlier tables keep theirs', () => {
    const tables = tablesWith(2)
    const first = tables.table(60_000)
    tables.record('GET', '/a', 1, 0)
    tables.record('GET', '/b', 1, 0)
    const late = tables.table(10_000)
    // the late table admits /c first: the two tables disagree on which keys have their own window
    tables.record('GET', '/c', 1, 0)
    tables.record('GET', '/a', 1, 0)
    tables.record('GET', '/c', 1, 0)
    assert.equal(countOf(first, 'GET /a'), 2)
    assert.equal(countOf(first, OTHER_ROUTES), 2)
    assert.equal(countOf(late, 'GET /c'), 2)
    assert.equal(countOf(late, 'GET /a'), 1)
    assert.equal(countOf(late, 'GET /b'), undefined)
  })
})

describe('robustness', () => {
  test('NaN, negative and infinite values are ignored; 0 and huge values are counted', () => {
    const histogram = new LogHistogram()
    for (const bad of [NaN, -1, -0.001, -Infinity, Infinity]) histogram.record(bad)
    assert.equal(histogram.count, 0)
    assert.ok(Number.isNaN(histogram.quantile(0.5)))
    assert.ok(Number.isNaN(histogram.min))

    histogram.record(0)
    histogram.record(-0)
    histogram.record(Number.MIN_VALUE)
    assert.equal(histogram.count, 3)
    // All three share the underflow bucket, reported as minMs but never outside what was seen
    assert.equal(histogram.quantile(0), Number.MIN_VALUE)
    assert.equal(histogram.min, 0)

    histogram.record(1e300)
    histogram.record(Number.MAX_VALUE)
    assert.equal(histogram.count, 5)
    assert.equal(histogram.max, Number.MAX_VALUE)
    // Above the range: reported as maxMs
    assert.equal(histogram.quantile(1), histogram.maxMs)

    histogram.clear()
    assert.equal(histogram.count, 0)
    histogram.record(12)
    assert.equal(histogram.count, 1)
    assert.equal(histogram.quantile(0.5), 12)
  })

  test('bad values through the window and the table do not corrupt counts', () => {
    const table = new RouteLatencyTable({ window: { now: () => 0 } })
    for (const value of [NaN, -5, Infinity, -Infinity, 0, 1e15, 40]) table.record('GET', '/x', value)
    const [stats] = table.stats()
    assert.ok(stats)
    assert.equal(stats.count, 3)
    assert.ok(Math.abs(stats.p50 - 40) / 40 <= ALPHA)
    assert.ok(Number.isFinite(stats.p99))
  })

  test('q outside 0..1 is a RangeError', () => {
    const histogram = new LogHistogram()
    histogram.record(1)
    for (const q of [-0.1, 1.01, NaN]) assert.throws(() => histogram.quantile(q), RangeError)
  })

  test('invalid histogram options are refused', () => {
    for (const options of [{ relativeAccuracy: 0 }, { minMs: -1 }, { minMs: 10, maxMs: 1 }]) {
      assert.throws(
        () => new LogHistogram(options),
        (error) => isTripwireError(error) && error.code === ErrorCodes.INVALID_OPTIONS,
      )
    }
  })
})
