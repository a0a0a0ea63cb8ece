import assert from 'node:assert/strict'
import { Session } from 'node:inspector'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { createTripwire, ErrorCodes, isTripwireError, LocalDiskSink } from '@tripwire/core'

// V8's sampling heap profiler is one per isolate and the inspector does not guard it. These tests play
// "another tool" with a second inspector session. They share one process on purpose: after finding the
// sampler taken, Tripwire backs off for 30 s, so the order below matters.

let dir: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tripwire-heap-owner-'))
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

function post(session: Session, method: string, params?: object): Promise<unknown> {
  return new Promise((resolve, reject) => {
    session.post(method, params, (error, result) => (error ? reject(error) : resolve(result)))
  })
}

const retained: unknown[] = []

test('a tool that stops the sampler mid-capture leaves a failed capture that says so', async () => {
  const tripwire = createTripwire({
    service: 's',
    sink: new LocalDiskSink({ dir }),
    limits: { cooldownMs: 0 },
  })
  const handle = await tripwire.start({ kind: 'heap', durationMs: 5000 })
  for (let i = 0; i < 50_000; i++) retained.push({ i })
  const other = new Session()
  other.connect()
  await post(other, 'HeapProfiler.stopSampling') // takes the samples from everyone
  other.disconnect()
  const meta = await handle.stop()
  assert.equal(meta.status, 'failed')
  assert.equal(meta.error?.code, ErrorCodes.PROFILER_IN_USE)
  await tripwire.close()
})

test('a heap capture is refused while another tool holds the sampler, and the other tool keeps it', async () => {
  const tripwire = createTripwire({
    service: 's',
    sink: new LocalDiskSink({ dir }),
    limits: { cooldownMs: 0 },
  })
  const other = new Session()
  other.connect()
  await post(other, 'HeapProfiler.startSampling', { samplingInterval: 16384 })
  for (let attempt = 0; attempt < 2; attempt++) {
    await assert.rejects(
      tripwire.start({ kind: 'heap', durationMs: 100 }),
      (error: unknown) => isTripwireError(error) && error.code === ErrorCodes.PROFILER_IN_USE,
    )
  }
  assert.equal(tripwire.status().counters.refused.profilerInUse, 2)
  assert.equal(tripwire.status().lock, undefined, 'a refused start releases the lock')
  for (let i = 0; i < 50_000; i++) retained.push({ i })
  const { profile } = (await post(other, 'HeapProfiler.stopSampling')) as { profile: { head: unknown } }
  assert.ok(profile.head, "the other tool's profile is intact")
  other.disconnect()
  // CPU captures are unaffected by the heap sampler's owner
  assert.equal((await (await tripwire.start({ kind: 'cpu', durationMs: 20 })).done).status, 'completed')
  await tripwire.close()
})
