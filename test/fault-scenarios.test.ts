/**
 * Reliability under faults, one child process per scenario: a process killed by SIGKILL while a capture is
 * being written, a disk that fills up or refuses writes under an Express service, an S3 outage during a burst
 * of captures, another tool holding the profiler, and captures in cluster workers and worker threads. The
 * scenarios in test/scenarios/ are plain .mjs files run by `node` against the BUILT packages (`npm run build`
 * first).
 *
 * SIGTERM during a CPU capture is covered by process-scenarios.test.ts ("with shutdownSignals…"): it reads the
 * stored capture back, checks its bytes and sha256 against the metadata, parses it and finds the work in it.
 * Heap sampling while another tool holds the sampler is covered by heap-sampler-ownership.test.ts.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import * as nodeFs from 'node:fs/promises'
import { createServer, Socket, type AddressInfo, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, afterEach, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3'
import { LocalDiskSink, type CaptureMeta, type CpuProfile, type TripwireStatus } from '@tripwire/core'
import { S3Sink } from '@tripwire/core/s3'
import { buildApp } from 'fauxqs'
import { send, type HttpResponse } from './conformance/http.js'
import { adminToken, HMAC_KID, SECRET, SERVICE, triggerToken } from './conformance/tokens.js'
import { killRunningScenarios, runScenario, type ScenarioOptions } from './run-scenario.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CORE = join(ROOT, 'packages', 'core')
const NODE_MAJOR = Number(process.versions.node.split('.')[0])
const S3_CREDENTIALS = { accessKeyId: 'tripwire-test', secretAccessKey: 'tripwire-test-secret' }

/** What test/scenarios/lib.mjs cpuProfileFacts reports about a CPU profile. */
interface ProfileFacts {
  nodes: number
  samples: number
  wellFormed: boolean
  onStack: Record<string, number>
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await nodeFs.readdir(dir)).sort()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

/**
 * Checks that a LocalDiskSink directory holds only whole captures: no temp file, and every body beside
 * metadata whose bytes and sha256 describe it. Returns the captures' metadata by id.
 */
async function assertOnlyWholeCaptures(dir: string): Promise<Map<string, CaptureMeta>> {
  const names = await listDir(dir)
  assert.deepEqual(
    names.filter((name) => name.startsWith('.')),
    [],
    'no temp file is left',
  )
  const metas = new Map<string, CaptureMeta>()
  for (const name of names.filter((candidate) => candidate.endsWith('.json'))) {
    const meta = JSON.parse(await nodeFs.readFile(join(dir, name), 'utf8')) as CaptureMeta
    const body = await nodeFs.readFile(join(dir, meta.fileName))
    assert.equal(body.length, meta.bytes, `${meta.fileName} has the bytes its metadata says`)
    assert.equal(sha256(body), meta.sha256, `${meta.fileName} has the digest its metadata says`)
    metas.set(meta.id, meta)
  }
  assert.equal(names.length, metas.size * 2, `every file belongs to a whole capture: ${names.join(', ')}`)
  return metas
}

function assertValidProfile(facts: ProfileFacts | null | undefined, what: string): ProfileFacts {
  assert.ok(facts, `${what}: a profile`)
  assert.equal(facts.wellFormed, true, `${what}: well formed (${JSON.stringify(facts)})`)
  assert.ok(facts.samples > 0, `${what}: has samples`)
  return facts
}

/** Runs a scenario that reports once and exits by itself with code 0; the child is killed whatever happens. */
async function scenarioResult<T>(script: string, args: string[], options: ScenarioOptions = {}): Promise<T> {
  const run = runScenario(script, args, options)
  try {
    const result = await run.result<T>()
    assert.equal((await run.exited).code, 0)
    return result
  } finally {
    run.child.kill('SIGKILL')
  }
}

describe('fault scenarios (child processes)', () => {
  let tmp: string

  before(async () => {
    for (const entry of [
      join(CORE, 'dist', 'index.js'),
      join(ROOT, 'packages', 'express', 'dist', 'index.js'),
    ]) {
      await nodeFs.stat(entry).catch(() => {
        throw new Error(`${entry} is missing: run \`npm run build\` first`)
      })
    }
    tmp = await nodeFs.mkdtemp(join(tmpdir(), 'tripwire-fault-scenarios-'))
  })

  afterEach(() => {
    killRunningScenarios()
  })

  after(async () => {
    if (tmp !== undefined) await nodeFs.rm(tmp, { recursive: true, force: true })
  })

  describe('SIGKILL while a capture is being written to a LocalDiskSink', () => {
    interface Stuck {
      pid: number
      complete: { id: string; status: string }
      interrupted: { id: string; fileName: string }
      where: { file: string; bytesWritten?: number; of?: number }
    }
    interface Restart {
      before: string[]
      listed: { id: string; status: string }[]
      interruptedVisible: { get: boolean; getMeta: boolean }
      after: string[]
    }

    // The body and the metadata are written to their temp files at the same time
    const stages = {
      body: 'half the body is in its temp file',
      meta: 'half the metadata is in its temp file',
      rename: 'the body has its final name and the metadata is still a temp file',
    } as const

    async function restartOn(dir: string, interruptedId: string): Promise<Restart> {
      return scenarioResult<Restart>('sink-restart.mjs', [dir, interruptedId])
    }

    for (const [stage, description] of Object.entries(stages)) {
      it(`killed when ${description}: nothing partial is ever visible, and the next start cleans up`, async () => {
        const dir = join(tmp, `sigkill-${stage}`)
        const run = runScenario('sigkill-mid-write.mjs', [dir, stage])
        try {
          const stuck = await run.result<Stuck>()
          const { complete, interrupted, pid } = stuck
          assert.equal(complete.status, 'completed')
          const completeFiles = [`${complete.id}.cpuprofile`, `${complete.id}.json`]
          const tempOf = (suffix: string) => (name: string) =>
            name.startsWith(`.tmp-${pid}-${interrupted.id}-`) && name.endsWith(suffix)

          // the put is stuck where the stage says, with real bytes on disk
          const atKill = await listDir(dir)
          const tempBodies = atKill.filter(tempOf('.body'))
          const tempMetas = atKill.filter(tempOf('.meta'))
          const finalBody = atKill.includes(interrupted.fileName)
          assert.ok(!atKill.includes(`${interrupted.id}.json`), 'the interrupted capture has no metadata')
          // stuck in the body, the metadata written alongside may or may not have its temp file yet
          const metaAlongside = stage === 'body' && tempMetas.length === 0 ? 0 : 1
          assert.deepEqual(
            { tempBodies: tempBodies.length, tempMetas: tempMetas.length, finalBody },
            {
              body: { tempBodies: 1, tempMetas: metaAlongside, finalBody: false },
              meta: { tempBodies: 1, tempMetas: 1, finalBody: false },
              rename: { tempBodies: 0, tempMetas: 1, finalBody: true },
            }[stage],
            `files at the kill: ${atKill.join(', ')}`,
          )
          if (stuck.where.bytesWritten !== undefined) {
            const { size } = await nodeFs.stat(join(dir, stuck.where.file))
            assert.equal(size, stuck.where.bytesWritten, 'the temp file holds the half that was written')
            assert.ok(size < stuck.where.of!, 'and it is partial')
          }

          assert.equal(run.child.kill('SIGKILL'), true)
          assert.equal((await run.exited).signal, 'SIGKILL')
          assert.deepEqual(await listDir(dir), atKill, 'the kill itself changed nothing')

          // a reader that cannot delete anything sees exactly the whole capture: visibility does not depend on
          // the clean-up
          const refusedDeletes: string[] = []
          const reader = new LocalDiskSink({
            dir,
            fs: {
              ...nodeFs,
              unlink: (path) => {
                refusedDeletes.push(path)
                return Promise.reject(
                  Object.assign(new Error('EROFS: read-only file system'), { code: 'EROFS' }),
                )
              },
            },
            onError: () => {},
          })
          assert.deepEqual(
            (await reader.list({ limit: 10 })).items.map((meta) => meta.id),
            [complete.id],
          )
          assert.equal(await reader.get(interrupted.id), undefined)
          assert.equal(await reader.getMeta(interrupted.id), undefined)
          await reader.close()
          assert.deepEqual(await listDir(dir), atKill, 'the read-only reader removed nothing')

          // the next process on the directory
          const restarted = await restartOn(dir, interrupted.id)
          assert.deepEqual(restarted.before, atKill)
          assert.deepEqual(restarted.listed, [{ id: complete.id, status: 'completed' }])
          assert.deepEqual(restarted.interruptedVisible, { get: false, getMeta: false })
          if (stage === 'rename') {
            // a body without metadata has no writer's pid in its name: it is kept until it is 5 minutes old, since
            // another process sharing the directory (a cluster worker) may be about to rename its metadata
            assert.deepEqual(restarted.after, [...completeFiles, interrupted.fileName].sort())
            const anHourAgo = new Date(Date.now() - 60 * 60 * 1000)
            await nodeFs.utimes(join(dir, interrupted.fileName), anHourAgo, anHourAgo)
            const later = await restartOn(dir, interrupted.id)
            assert.deepEqual(later.listed, [{ id: complete.id, status: 'completed' }])
            assert.deepEqual(later.after, completeFiles, 'the old orphan body is removed')
          } else {
            assert.deepEqual(
              restarted.after,
              completeFiles,
              "the dead writer's temp files are removed at once",
            )
          }
          assert.ok(refusedDeletes.length > 0, 'the read-only reader did try to clean up (the control)')

          const metas = await assertOnlyWholeCaptures(dir)
          assert.deepEqual([...metas.keys()], [complete.id])
          const profile = JSON.parse(
            await nodeFs.readFile(join(dir, `${complete.id}.cpuprofile`), 'utf8'),
          ) as CpuProfile
          assert.ok(
            profile.nodes.length > 0 && (profile.samples?.length ?? 0) > 0,
            'the whole capture parses',
          )
        } finally {
          run.child.kill('SIGKILL')
        }
      })
    }
  })

  it('a full or read-only disk under an Express service: it keeps serving, the failure is coded, nothing partial is left', async () => {
    const dir = join(tmp, 'express-fault-sink')
    const run = runScenario('express-sink-fault.mjs', [dir, SERVICE, HMAC_KID, SECRET])
    const { port } = await run.result<{ port: number }>()
    const base = `http://127.0.0.1:${port}`
    const adminHeaders = { authorization: `Bearer ${adminToken()}`, 'content-type': 'application/json' }
    const adminGet = (path: string) => send(base, 'GET', `/_tripwire${path}`, { headers: adminHeaders })
    const served: string[] = []
    async function work(ms: number, headers: Record<string, string> = {}): Promise<HttpResponse> {
      const response = await send(base, 'GET', `/work/${ms}`, { headers })
      served.push(`${response.status} ${response.text}`)
      return response
    }
    const status = async () => (await adminGet('/status')).json<TripwireStatus>()

    /** Starts a long capture through the admin API or a signed header; returns its id. */
    async function startCapture(via: 'admin' | 'header', fault: string): Promise<string> {
      if (via === 'admin') {
        const created = await send(base, 'POST', '/_tripwire/captures', {
          headers: adminHeaders,
          body: JSON.stringify({ kind: 'cpu', labels: { fault } }),
        })
        assert.equal(created.status, 202, created.text)
        return created.json<CaptureMeta>().id
      }
      const token = triggerToken({ kind: 'cpu', mode: 'window', dur: 20_000 })
      const triggering = await work(5, { 'x-trigger-profile': token })
      assert.equal(triggering.headers['x-profile-status'], 'accepted')
      return String(triggering.headers['x-profile-id'])
    }

    interface Fault {
      fault: 'full' | 'nearly-full' | 'denied'
      via: 'admin' | 'header'
      code: string
      /** Whether the failed capture's metadata still fits (a few KiB free), so that the API can show it. */
      failureStored: boolean
    }
    const faults: Fault[] = [
      { fault: 'full', via: 'admin', code: 'ERR_TRIPWIRE_SINK_DISK_FULL', failureStored: false },
      { fault: 'nearly-full', via: 'admin', code: 'ERR_TRIPWIRE_SINK_DISK_FULL', failureStored: true },
      { fault: 'denied', via: 'header', code: 'ERR_TRIPWIRE_SINK_PERMISSION', failureStored: false },
    ]

    try {
      await work(5)
      const failedIds: string[] = []
      for (const { fault, via, code, failureStored } of faults) {
        assert.equal((await send(base, 'PUT', `/test/fault/${fault}`)).status, 200)
        const id = await startCapture(via, fault)
        assert.equal((await status()).current?.id, id)
        for (let i = 0; i < 5; i++) await work(10)
        assert.equal((await status()).current?.id, id, 'those requests were served during the capture')

        // the one who stops it learns at once that it failed, and why
        const stopped = await send(base, 'POST', `/_tripwire/captures/${id}/stop`, { headers: adminHeaders })
        assert.equal(stopped.status, 200, stopped.text)
        const stoppedMeta = stopped.json<CaptureMeta>()
        assert.equal(stoppedMeta.status, 'failed')
        assert.equal(stoppedMeta.error?.code, code)
        failedIds.push(id)

        const after = await status()
        assert.equal(after.counters.failed, failedIds.length, `status() counts the failed capture (${fault})`)
        assert.equal(after.current, undefined)
        assert.equal(after.storing, 0)

        const logs = (await send(base, 'GET', '/test/logs')).json<
          { level: string; message: string; fields: Record<string, unknown> }[]
        >()
        const failure = logs.find(
          (line) => line.message === 'tripwire: capture failed' && line.fields.id === id,
        )
        assert.equal(failure?.level, 'error', `the failure is logged as an error (${fault})`)
        assert.equal(failure.fields.code, code)
        const unrecorded = logs.some(
          (line) =>
            line.message === 'tripwire: the sink could not record the failed capture' &&
            line.fields.id === id,
        )
        assert.equal(unrecorded, !failureStored, 'the log says when not even the failure could be written')

        const stored = await adminGet(`/captures/${id}`)
        if (failureStored) {
          assert.equal(stored.status, 200, stored.text)
          const meta = stored.json<CaptureMeta>()
          assert.deepEqual([meta.status, meta.error?.code, meta.bytes], ['failed', code, 0])
          const profile = await adminGet(`/captures/${id}/profile`)
          assert.equal(profile.status, 409, 'a failed capture has no profile to download')
        } else {
          assert.equal(stored.status, 404, `nothing could be written, so nothing is shown (${fault})`)
        }
        const whole = await assertOnlyWholeCaptures(dir)
        assert.equal(whole.has(id), failureStored)
        assert.equal((await work(5)).status, 200, 'served after the failure')
      }

      // the disk recovers, and so does capturing
      assert.equal((await send(base, 'PUT', '/test/fault/none')).status, 200)
      const recoveredId = await startCapture('header', 'none')
      for (let i = 0; i < 3; i++) await work(10)
      const stopped = await send(base, 'POST', `/_tripwire/captures/${recoveredId}/stop`, {
        headers: adminHeaders,
      })
      assert.equal(stopped.json<CaptureMeta>().status, 'completed')
      const download = await adminGet(`/captures/${recoveredId}/profile`)
      assert.equal(download.status, 200)
      const profile = JSON.parse(download.text) as CpuProfile
      assert.ok((profile.samples?.length ?? 0) > 0, 'the capture after the recovery is a real profile')
      const whole = await assertOnlyWholeCaptures(dir)
      assert.equal(whole.get(recoveredId)?.sha256, sha256(download.body))

      const listed = (await adminGet('/captures')).json<{ items: CaptureMeta[] }>()
      // ids order by the second they were taken in, and these may share one: compare them as a set
      assert.deepEqual(
        new Map(listed.items.map((meta) => [meta.id, meta.status])),
        new Map([
          [recoveredId, 'completed'],
          [failedIds[1], 'failed'],
        ]),
      )
      const counters = (await status()).counters
      assert.deepEqual([counters.started, counters.completed, counters.failed], [4, 1, 3])
      assert.deepEqual(
        served.filter((line) => line !== '200 ok'),
        [],
        'every request was answered normally',
      )
    } finally {
      run.child.kill('SIGKILL')
    }
  })

  it('an S3 outage during a burst of captures: all are spooled, then all are uploaded intact and the spool empties', async () => {
    const BURST = 5
    const store = buildApp({ logger: false })
    await store.listen({ port: 0, host: '127.0.0.1' })
    const storePort = (store.server.address() as AddressInfo).port
    const client = new S3Client({
      endpoint: `http://127.0.0.1:${storePort}`,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: S3_CREDENTIALS,
      maxAttempts: 1,
    })
    const bucket = 'outage-burst'
    await client.send(new CreateBucketCommand({ Bucket: bucket }))
    // the child reaches the store through this proxy, which can go away (refused connections) and come back
    // on the same port while the store keeps what it holds
    const link = await tcpProxy(storePort)
    const spoolDir = join(tmp, 's3-burst-spool')
    const run = runScenario('s3-outage-burst.mjs', [
      `http://127.0.0.1:${link.port}`,
      bucket,
      spoolDir,
      String(BURST),
    ])
    try {
      interface SinkStatus {
        spooled: number
        uploaded: number
        dropped: number
        lastError?: { code: string }
      }
      const up = await run.line<{ warm: CaptureMeta; status: SinkStatus }>(0)
      assert.equal(up.warm.status, 'completed')
      assert.equal(up.status.uploaded, 1)

      await link.down()
      run.child.kill('SIGUSR2')
      const outage = await run.line<{ burst: CaptureMeta[]; status: SinkStatus; spool: string[] }>(1)
      assert.deepEqual(
        outage.burst.map((meta) => meta.status),
        Array<string>(BURST).fill('completed'),
        'every capture of the burst completed while the store was away',
      )
      assert.equal(outage.status.spooled, BURST, 'all of them are in the spool')
      assert.equal(outage.status.uploaded, 1, 'none of them reached the store')
      assert.equal(outage.status.dropped, 0)
      for (const meta of outage.burst) {
        assert.ok(
          outage.spool.some((name) => name.includes(meta.id)),
          `${meta.id} is in the spool: ${outage.spool.join(', ')}`,
        )
      }

      await link.up()
      const back = await run.line<{
        status: SinkStatus
        counters: { completed: number; failed: number }
        sinkErrors: { code: string }[]
        spool: string[]
      }>(2)
      assert.equal((await run.exited).code, 0)
      assert.equal(back.status.spooled, 0)
      assert.equal(back.status.uploaded, BURST + 1, 'every capture was uploaded')
      assert.equal(back.status.dropped, 0)
      assert.deepEqual(back.spool, [], 'the spool is empty')
      assert.deepEqual(await listDir(spoolDir), [])
      assert.deepEqual([back.counters.completed, back.counters.failed], [BURST + 1, 0])
      assert.ok(
        back.sinkErrors.length > 0 &&
          back.sinkErrors.every((error) => error.code === 'ERR_TRIPWIRE_SINK_UNAVAILABLE'),
        `the outage was reported as the store being unavailable: ${JSON.stringify(back.sinkErrors)}`,
      )

      // read back from the store itself, by another instance with a spool of its own
      const reader = new S3Sink({ bucket, client, spool: { dir: join(tmp, 's3-burst-reader-spool') } })
      try {
        const expected = [up.warm, ...outage.burst]
        const listed = await reader.list({ limit: 20 })
        assert.deepEqual(
          listed.items.map((meta) => meta.id).sort(),
          expected.map((meta) => meta.id).sort(),
          'none lost, none extra',
        )
        for (const meta of expected) {
          const stored = await reader.get(meta.id)
          assert.ok(stored, `${meta.id} is in the store`)
          const chunks: Buffer[] = []
          for await (const chunk of stored.body) chunks.push(chunk as Buffer)
          const body = Buffer.concat(chunks)
          assert.deepEqual(stored.meta, meta, 'the stored metadata is the capture’s')
          assert.equal(body.length, meta.bytes)
          assert.equal(
            sha256(body),
            meta.sha256,
            `${meta.id}: the object's bytes have the digest in its metadata`,
          )
          const profile = JSON.parse(body.toString('utf8')) as CpuProfile
          assert.ok((profile.samples?.length ?? 0) > 0, `${meta.id} is a real profile`)
        }
      } finally {
        await reader.close()
      }
    } finally {
      run.child.kill('SIGKILL')
      await link.close()
      client.destroy()
      await store.close()
    }
  })

  describe('another tool uses the profiler at the same time', () => {
    const WORK = ['beforeTripwireWork', 'duringTripwireWork', 'afterTripwireWork'] as const
    interface Capture {
      status?: string
      error?: { code: string } | null
      refused?: { code: string; message: string }
      profile?: ProfileFacts | null
    }

    /** Tripwire's capture worked, and its profile covers its own window only. */
    function assertOwnWindow(capture: Capture, what: string): void {
      assert.equal(
        capture.refused,
        undefined,
        `${what}: Tripwire was not refused (${JSON.stringify(capture.refused)})`,
      )
      assert.equal(capture.status, 'completed', what)
      const facts = assertValidProfile(capture.profile, what)
      assert.ok(facts.onStack.duringTripwireWork! > 0, `${what}: covers the work during the capture`)
      assert.equal(facts.onStack.beforeTripwireWork, 0, `${what}: nothing from before it started`)
      assert.equal(facts.onStack.afterTripwireWork, 0, `${what}: nothing from after it stopped`)
    }

    /** The other tool's profile is whole and holds its own samples, from before, during and after. */
    function assertCoversAll(facts: ProfileFacts | undefined, what: string): void {
      assertValidProfile(facts, what)
      for (const name of WORK) assert.ok(facts!.onStack[name]! > 0, `${what}: has samples in ${name}`)
    }

    it('another in-process inspector session recording a CPU profile', async () => {
      const result = await scenarioResult<{
        around: { tripwire: Capture; other: ProfileFacts }
        inside: { tripwire: Capture; other: ProfileFacts }
      }>('profiler-coexistence.mjs', [join(tmp, 'coexist-session'), 'session'])
      // the other tool started first and stopped last
      assertOwnWindow(result.around.tripwire, 'Tripwire inside the other recording')
      assertCoversAll(result.around.other, 'the other recording around Tripwire')
      // the other tool started and stopped within Tripwire's capture
      const inside = assertValidProfile(result.inside.tripwire.profile, 'Tripwire around the other recording')
      assert.equal(result.inside.tripwire.status, 'completed')
      for (const name of WORK) assert.ok(inside.onStack[name]! > 0, `Tripwire's capture has ${name}`)
      const other = assertValidProfile(result.inside.other, 'the other recording inside Tripwire')
      assert.ok(other.onStack.duringTripwireWork! > 0)
      assert.deepEqual([other.onStack.beforeTripwireWork, other.onStack.afterTripwireWork], [0, 0])
    })

    it('a process run with --cpu-prof: the capture works and the file written at exit is whole', async () => {
      const profDir = join(tmp, 'coexist-cpu-prof')
      const result = await scenarioResult<{ capture: Capture; execArgv: string[] }>(
        'profiler-coexistence.mjs',
        [join(tmp, 'coexist-cpu-prof-sink'), 'cpu-prof'],
        { execArgv: ['--cpu-prof', `--cpu-prof-dir=${profDir}`] },
      )
      assert.ok(result.execArgv.includes('--cpu-prof'), 'the child ran under --cpu-prof')
      assertOwnWindow(result.capture, 'Tripwire under --cpu-prof')

      const files = (await listDir(profDir)).filter((name) => name.endsWith('.cpuprofile'))
      assert.equal(files.length, 1, `one --cpu-prof file: ${files.join(', ')}`)
      const written = JSON.parse(await nodeFs.readFile(join(profDir, files[0]!), 'utf8')) as CpuProfile
      assertCoversAll(cpuProfileFactsOf(written, WORK), 'the --cpu-prof file')
    })

    it('an attached debugger (a WebSocket client of inspector.open) that records a profile too', async () => {
      const result = await scenarioResult<{
        capture: Capture
        debuggerProfile: ProfileFacts
        debuggerUrl: string
        evaluatedAfter: number | null
      }>('profiler-coexistence.mjs', [join(tmp, 'coexist-debugger'), 'debugger'], {
        // Node 20 has a global WebSocket only behind this flag; later lines have it by default
        execArgv: NODE_MAJOR < 22 ? ['--experimental-websocket'] : [],
      })
      assert.match(
        result.debuggerUrl,
        /^ws:\/\/127\.0\.0\.1:\d+\//,
        'the debugger was attached over loopback',
      )
      assertOwnWindow(result.capture, 'Tripwire with a debugger attached')
      assertCoversAll(result.debuggerProfile, "the debugger's own recording")
      assert.equal(result.evaluatedAfter, 42, 'the debugger still works after the capture')
    })
  })

  describe('workers and cluster', () => {
    it('two cluster workers capture at once, each capture labelled with its worker id', async () => {
      const dir = join(tmp, 'cluster-sink')
      const run = runScenario('cluster-workers.mjs', [dir, SERVICE, HMAC_KID, SECRET])
      const workerPids: number[] = []
      let workersStopped = false
      try {
        const { workers } = await run.result<{ workers: { id: number; pid: number; port: number }[] }>()
        workerPids.push(...workers.map((worker) => worker.pid))
        assert.equal(workers.length, 2)
        const headers = { authorization: `Bearer ${adminToken()}`, 'content-type': 'application/json' }
        const adminOf = (port: number) => `http://127.0.0.1:${port}`

        // one manual capture per worker; both run until stopped
        const started = await Promise.all(
          workers.map(async ({ port }) => {
            const created = await send(adminOf(port), 'POST', '/_tripwire/captures', {
              headers,
              body: JSON.stringify({ kind: 'cpu', labels: { asked: 'test' } }),
            })
            assert.equal(created.status, 202, created.text)
            return created.json<CaptureMeta>()
          }),
        )
        for (const [index, worker] of workers.entries()) {
          const current = (
            await send(adminOf(worker.port), 'GET', '/_tripwire/status', { headers })
          ).json<TripwireStatus>().current
          assert.equal(current?.id, started[index]!.id, `worker ${worker.id} is capturing while the other is`)
          assert.equal((await send(adminOf(worker.port), 'GET', '/work/20')).text, 'ok')
        }
        const stopped = await Promise.all(
          workers.map(async ({ port }, index) => {
            const stop = `/_tripwire/captures/${started[index]!.id}/stop`
            const response = await send(adminOf(port), 'POST', stop, { headers })
            assert.equal(response.status, 200, response.text)
            return response.json<CaptureMeta>()
          }),
        )

        for (const [index, worker] of workers.entries()) {
          for (const meta of [started[index]!, stopped[index]!]) {
            assert.deepEqual(meta.labels, { clusterWorker: String(worker.id), asked: 'test' })
            assert.equal(meta.pid, worker.pid)
          }
          assert.equal(stopped[index]!.status, 'completed')
        }
        // one directory shared by both workers: either lists both
        const listing = await send(adminOf(workers[0]!.port), 'GET', '/_tripwire/captures', { headers })
        const listed = listing.json<{ items: CaptureMeta[] }>()
        assert.deepEqual(
          listed.items.map((meta) => meta.labels.clusterWorker).sort(),
          workers.map((worker) => String(worker.id)).sort(),
        )
        await assertOnlyWholeCaptures(dir)

        assert.equal(run.child.kill('SIGTERM'), true)
        assert.equal((await run.exited).code, 0, 'the primary stopped its workers and exited')
        workersStopped = true
      } finally {
        run.child.kill('SIGKILL')
        // only while they may still run: the pid of a worker that has exited may belong to someone else by now
        if (!workersStopped) for (const pid of workerPids) killIfRunning(pid)
      }
    })

    it('worker threads capture their own isolate, each labelled with its threadId, all at once', async () => {
      interface ThreadCapture {
        status: string
        pid: number
        labels: Record<string, string>
        profile: ProfileFacts | null
      }
      const result = await scenarioResult<{
        pid: number
        workerThreadIds: number[]
        started: { threadId: number; secondStart: string }[]
        main: ThreadCapture
        workers: { threadId: number; capture: ThreadCapture }[]
      }>('worker-threads.mjs', [join(tmp, 'threads-sink')])

      // the one-capture lock is per isolate: a second start in the same thread is refused, other threads are not
      assert.deepEqual(
        result.started.map((started) => started.secondStart),
        ['ERR_TRIPWIRE_BUSY', 'ERR_TRIPWIRE_BUSY'],
      )
      const ownWork = ['firstWorkerWork', 'secondWorkerWork']
      for (const [index, { threadId, capture }] of result.workers.entries()) {
        assert.equal(threadId, result.workerThreadIds[index])
        assert.equal(capture.status, 'completed')
        assert.equal(capture.pid, result.pid, 'one process')
        assert.deepEqual(capture.labels, { thread: String(threadId) })
        const facts = assertValidProfile(capture.profile, `worker ${threadId}`)
        for (const name of ['mainThreadWork', ...ownWork]) {
          const own = name === ownWork[index]
          assert.equal(
            facts.onStack[name]! > 0,
            own,
            `worker ${threadId}'s profile ${own ? 'has' : 'lacks'} ${name}`,
          )
        }
      }
      assert.equal(result.main.status, 'completed')
      assert.deepEqual(result.main.labels, {}, 'the main thread gets no thread label')
      const main = assertValidProfile(result.main.profile, 'main thread')
      assert.deepEqual(
        [main.onStack.mainThreadWork! > 0, main.onStack.firstWorkerWork, main.onStack.secondWorkerWork],
        [true, 0, 0],
        "the main thread's profile holds the main thread only",
      )
    })
  })
})

/** The same facts as test/scenarios/lib.mjs cpuProfileFacts, for a profile this process read. */
function cpuProfileFactsOf(profile: CpuProfile, functionNames: readonly string[]): ProfileFacts {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parentOf = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id)
  const samples = profile.samples ?? []
  const onStack = Object.fromEntries(functionNames.map((name) => [name, 0]))
  for (const sample of samples) {
    const seen = new Set<string>()
    for (
      let id: number | undefined = sample, depth = 0;
      id !== undefined && depth <= profile.nodes.length;
      id = parentOf.get(id), depth++
    ) {
      const name = byId.get(id)?.callFrame.functionName
      if (name !== undefined && Object.hasOwn(onStack, name)) seen.add(name)
    }
    for (const name of seen) onStack[name]!++
  }
  const wellFormed =
    profile.nodes.length > 0 &&
    samples.length > 0 &&
    profile.timeDeltas?.length === samples.length &&
    samples.every((id) => byId.has(id)) &&
    profile.endTime >= profile.startTime
  return { nodes: profile.nodes.length, samples: samples.length, wellFormed, onStack }
}

function killIfRunning(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
  }
}

/** A loopback TCP proxy to `targetPort` that can be taken down (connections refused) and brought back up. */
async function tcpProxy(targetPort: number): Promise<{
  port: number
  down(): Promise<void>
  up(): Promise<void>
  close(): Promise<void>
}> {
  const sockets = new Set<Socket>()
  let server: Server | undefined
  const listen = async (port: number): Promise<number> => {
    const next = createServer((inbound) => {
      const outbound = new Socket()
      sockets.add(inbound).add(outbound)
      const forget = () => {
        inbound.destroy()
        outbound.destroy()
        sockets.delete(inbound)
        sockets.delete(outbound)
      }
      inbound.on('error', forget).on('close', forget)
      outbound.on('error', forget).on('close', forget)
      outbound.connect(targetPort, '127.0.0.1', () => {
        inbound.pipe(outbound)
        outbound.pipe(inbound)
      })
    })
    await new Promise<void>((resolve, reject) => {
      next.once('error', reject)
      next.listen(port, '127.0.0.1', () => resolve())
    })
    server = next
    return (next.address() as AddressInfo).port
  }
  const down = async (): Promise<void> => {
    const closing = server
    server = undefined
    for (const socket of sockets) socket.destroy()
    sockets.clear()
    if (closing !== undefined) await new Promise<void>((resolve) => closing.close(() => resolve()))
  }
  const port = await listen(0)
  return { port, down, up: async () => void (await listen(port)), close: down }
}
