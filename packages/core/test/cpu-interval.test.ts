import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { createTripwire } from '../src/controller.js'
import { defaultCpuIntervalUs, DEFAULT_WINDOW_SAMPLES } from '../src/cpu-interval.js'
import { LocalDiskSink } from '../src/sinks/local-disk.js'
import type { StartCaptureRequest, TripwireOptions } from '../src/types.js'

describe('defaultCpuIntervalUs', () => {
  test('a window gets about DEFAULT_WINDOW_SAMPLES samples, between 1 ms and 10 ms', () => {
    assert.equal(defaultCpuIntervalUs(30_000), 10_000)
    assert.equal(defaultCpuIntervalUs(300_000), 10_000)
    assert.equal(defaultCpuIntervalUs(10_000), 3300)
    assert.equal(defaultCpuIntervalUs(6_000), 2000)
    assert.equal(defaultCpuIntervalUs(3_000), 1000)
    assert.equal(defaultCpuIntervalUs(200), 1000)
    for (const durationMs of [4_000, 10_000, 20_000]) {
      const samples = (durationMs * 1000) / defaultCpuIntervalUs(durationMs)
      assert.ok(Math.abs(samples - DEFAULT_WINDOW_SAMPLES) < 100, `${durationMs} ms: ${samples} samples`)
    }
  })

  test('a capture without a planned length samples every 1 ms', () => {
    assert.equal(defaultCpuIntervalUs(undefined), 1000)
  })
})

describe('the interval a CPU capture is started with', () => {
  let root: string
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tripwire-interval-'))
  })
  after(async () => {
    await rm(root, { recursive: true, force: true })
  })

  /** The interval recorded in the running capture's metadata, which is what V8 was asked for. */
  async function intervalOf(request: StartCaptureRequest, options: Partial<TripwireOptions> = {}) {
    const tripwire = createTripwire({
      service: 'checkout',
      sink: new LocalDiskSink({ dir: await mkdtemp(join(root, 'c-')) }),
      limits: { cooldownMs: 0 },
      ...options,
    })
    try {
      const handle = await tripwire.start(request)
      await handle.stop()
      return handle.meta.requested.samplingIntervalUs
    } finally {
      await tripwire.close()
    }
  }

  test('is chosen from the window, or 1 ms for captures that run until stopped', async () => {
    assert.equal(await intervalOf({ kind: 'cpu', durationMs: 30_000 }), 10_000)
    assert.equal(await intervalOf({ kind: 'cpu', durationMs: 10_000 }), 3300)
    assert.equal(await intervalOf({ kind: 'cpu', mode: 'request' }), 1000)
    assert.equal(await intervalOf({ kind: 'cpu' }), 1000)
  })

  test('cpu.samplingIntervalUs fixes it for every capture, and a request may still ask for its own', async () => {
    const fixed = { cpu: { samplingIntervalUs: 500 } }
    assert.equal(await intervalOf({ kind: 'cpu', durationMs: 30_000 }, fixed), 500)
    assert.equal(await intervalOf({ kind: 'cpu', mode: 'request' }, fixed), 500)
    assert.equal(await intervalOf({ kind: 'cpu', durationMs: 30_000, samplingIntervalUs: 2000 }, fixed), 2000)
  })

  test('a window whose profile would not fit maxProfileBytes at its interval is refused', async () => {
    // at 100 µs, 12 bytes a sample: 120 KB a second; 1 MiB holds a few seconds after the tree allowance
    const small = { limits: { cooldownMs: 0, maxProfileBytes: 1024 * 1024 } }
    await assert.rejects(
      intervalOf({ kind: 'cpu', durationMs: 30_000, samplingIntervalUs: 100 }, small),
      /would pass limits\.maxProfileBytes/,
    )
    // the default interval for the same window (10 ms) fits
    assert.equal(await intervalOf({ kind: 'cpu', durationMs: 30_000 }, small), 10_000)
  })
})
