/**
 * Process-global behaviour, one scenario per child process: the capture lock shared by two installed copies of
 * core, the permission model without the inspector, the opt-in SIGTERM hook (and its absence), and close()
 * in the middle of a capture. The scenarios in test/scenarios/ are plain .mjs files run by `node` against the
 * BUILT package (`npm run build` first); each prints one JSON line.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink } from 'node:fs/promises'
import { get } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, afterEach, before, describe, it } from 'node:test'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { CaptureMeta, CpuProfile } from '@tripwire/core'
import { killRunningScenarios, runScenario, type Exit } from './run-scenario.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CORE = join(ROOT, 'packages', 'core')
/** Every child is killed (and its test failed) when it runs longer than this. */
/** The function the scenarios burn CPU in (test/scenarios/lib.mjs). */
const BUSY_FUNCTION = 'tripwireScenarioBusyWork'
const NODE_MAJOR = Number(process.versions.node.split('.')[0])

/** A GET on its own connection (no keep-alive pool left behind in the test process). */
function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = get({ host: '127.0.0.1', port, path, agent: false, timeout: 5000 }, (response) => {
      let body = ''
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }))
      response.on('error', reject)
    })
    request.on('timeout', () => request.destroy(new Error(`GET ${path} timed out`)))
    request.on('error', reject)
  })
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
}

/** Reads `<id>.json` and `<id>.cpuprofile` from a sink dir and checks that the metadata describes the body. */
async function readStoredCpuCapture(
  dir: string,
  id: string,
): Promise<{ meta: CaptureMeta; profile: CpuProfile }> {
  assert.deepEqual(
    await listDir(dir),
    [`${id}.cpuprofile`, `${id}.json`],
    'exactly the capture, no leftovers',
  )
  const meta = JSON.parse(await readFile(join(dir, `${id}.json`), 'utf8')) as CaptureMeta
  const bodyPath = join(dir, `${id}.cpuprofile`)
  const body = await readFile(bodyPath)
  assert.equal(meta.id, id)
  assert.equal(meta.kind, 'cpu')
  assert.equal(meta.fileName, `${id}.cpuprofile`)
  assert.equal(meta.bytes, (await stat(bodyPath)).size, 'meta.bytes is the file size')
  assert.equal(meta.sha256, createHash('sha256').update(body).digest('hex'), 'meta.sha256 is the file digest')
  const profile = JSON.parse(body.toString('utf8')) as CpuProfile
  assert.ok(Array.isArray(profile.nodes) && profile.nodes.length > 0, 'the profile has nodes')
  assert.ok((profile.samples?.length ?? 0) > 0, 'the profile has samples')
  assert.equal(meta.sampling?.samples, profile.samples?.length, 'meta.sampling.samples counts the samples')
  return { meta, profile }
}

/** Samples that landed in the scenarios' busy-work function: > 0 means the profile covered the work. */
function busyHits(profile: CpuProfile): number {
  return profile.nodes
    .filter((node) => node.callFrame.functionName === BUSY_FUNCTION)
    .reduce((sum, node) => sum + (node.hitCount ?? 0), 0)
}

describe('process-global scenarios (child processes)', () => {
  let tmp: string

  before(async () => {
    await stat(join(CORE, 'dist', 'index.js')).catch(() => {
      throw new Error('packages/core/dist is missing: run `npm run build` first')
    })
    tmp = await mkdtemp(join(tmpdir(), 'tripwire-scenarios-'))
  })

  afterEach(() => {
    killRunningScenarios()
  })

  after(async () => {
    if (tmp !== undefined) await rm(tmp, { recursive: true, force: true })
  })

  it('two installed copies of core share one capture lock and recognise each other’s errors', async () => {
    const copyUrls = await Promise.all(
      ['copyA', 'copyB'].map(async (name) => {
        const target = join(tmp, name, 'node_modules', '@tripwire', 'core')
        await mkdir(target, { recursive: true })
        await cp(join(CORE, 'dist'), join(target, 'dist'), { recursive: true })
        await cp(join(CORE, 'package.json'), join(target, 'package.json'))
        // each copy resolves core's own dependencies as an install would, from its node_modules
        const manifest = JSON.parse(await readFile(join(CORE, 'package.json'), 'utf8')) as {
          dependencies?: Record<string, string>
        }
        for (const dependency of Object.keys(manifest.dependencies ?? {})) {
          const link = join(tmp, name, 'node_modules', dependency)
          await mkdir(dirname(link), { recursive: true }) // scoped packages live one folder deeper
          await symlink(join(ROOT, 'node_modules', dependency), link, 'dir')
        }
        return pathToFileURL(join(target, 'dist', 'index.js')).href
      }),
    )
    const [sinkA, sinkB] = [join(tmp, 'two-copies-sink-a'), join(tmp, 'two-copies-sink-b')]
    const run = runScenario('two-copies.mjs', [...copyUrls, sinkA, sinkB])
    const result = await run.result<{
      distinct: { controller: boolean; errorClass: boolean; sinkClass: boolean }
      busy: {
        rejected: boolean
        code?: string
        message: string
        retryAfterMs: number | null
        recognisedByA: boolean
        recognisedByB: boolean
        instanceOfA: boolean
        instanceOfB: boolean
      }
      refusedBusyB: number
      a: { id: string; status: string }
      b: { id: string; status: string }
    }>()
    assert.equal((await run.exited).code, 0)

    assert.deepEqual(
      result.distinct,
      { controller: true, errorClass: true, sinkClass: true },
      'two module instances',
    )
    assert.equal(result.busy.rejected, true, 'copy B may not start while copy A captures')
    assert.equal(result.busy.code, 'ERR_TRIPWIRE_BUSY')
    assert.match(result.busy.message, new RegExp(result.a.id), 'the refusal names the holder')
    assert.ok(
      result.busy.retryAfterMs !== null && result.busy.retryAfterMs > 0 && result.busy.retryAfterMs <= 2000,
      `copy B learns from the lock when copy A's capture ends (retryAfterMs ${result.busy.retryAfterMs})`,
    )
    assert.equal(result.busy.recognisedByA, true, "copy A's isTripwireError recognises copy B's error")
    assert.equal(result.busy.recognisedByB, true)
    assert.equal(result.busy.instanceOfA, false, 'the brand, not instanceof, is what crosses copies')
    assert.equal(result.busy.instanceOfB, true)
    assert.equal(result.refusedBusyB, 1)
    assert.equal(result.a.status, 'completed')
    assert.equal(result.b.status, 'completed', 'copy B can start once copy A has stopped')
    assert.notEqual(result.a.id, result.b.id)

    const storedA = await readStoredCpuCapture(sinkA, result.a.id)
    const storedB = await readStoredCpuCapture(sinkB, result.b.id)
    assert.equal(storedA.meta.status, 'completed')
    assert.equal(storedB.meta.status, 'completed')
  })

  it('without the inspector (permission model) every kind is refused with a clear code and the server serves', async () => {
    const permissionFlag = NODE_MAJOR >= 22 ? '--permission' : '--experimental-permission'
    const sink = join(tmp, 'no-inspector-sink')
    const run = runScenario('inspector-unavailable.mjs', [sink], {
      execArgv: [permissionFlag, '--allow-fs-read=*', '--allow-fs-write=*'],
    })
    interface Refusal {
      rejected: boolean
      code?: string
      message: string
    }
    const result = await run.result<{
      permissionModel: boolean
      cpu: Refusal
      heap: Refusal
      inspector: { available?: boolean; reason?: string }
      current: unknown
      refused: { unavailable: number; busy: number }
      http: { status: number; body: string }
    }>()
    assert.equal((await run.exited).code, 0)

    assert.equal(
      result.permissionModel,
      true,
      'the child runs under the permission model without the inspector',
    )
    assert.equal(result.cpu.rejected, true)
    assert.equal(result.cpu.code, 'ERR_TRIPWIRE_INSPECTOR_UNAVAILABLE')
    assert.match(result.cpu.message, /permission model/)
    assert.equal(result.heap.rejected, true)
    assert.equal(
      result.heap.code,
      'ERR_TRIPWIRE_INSPECTOR_UNAVAILABLE',
      'not BUSY: the failed start freed the lock',
    )
    assert.equal(result.inspector.available, false)
    assert.match(result.inspector.reason ?? '', /permission model/)
    assert.equal(result.current, null)
    assert.equal(result.refused.unavailable, 2)
    assert.equal(result.refused.busy, 0)
    assert.deepEqual(result.http, { status: 200, body: 'ok' }, 'the service keeps serving')
    assert.deepEqual(await listDir(sink), [], 'a refused capture stores nothing')
  })

  interface Ready {
    ready: boolean
    id: string
    port: number
    sigtermListeners: number
  }

  /** Starts the SIGTERM scenario, loads the server with CPU work, sends SIGTERM; returns how it ended. */
  async function sigtermScenario(
    mode: 'hook' | 'no-hook' | 'hook-and-app',
    sink: string,
  ): Promise<{ ready: Ready; exit: Exit; exitMs: number }> {
    const run = runScenario('sigterm-capture.mjs', [sink, mode])
    const ready = await run.result<Ready>()
    assert.equal(ready.ready, true)
    for (let i = 0; i < 8; i++)
      assert.deepEqual(await httpGet(ready.port, '/?work=30'), { status: 200, body: 'ok' })
    const killedAt = performance.now()
    assert.equal(run.child.kill('SIGTERM'), true)
    const exit = await run.exited
    return { ready, exit, exitMs: exit.at - killedAt }
  }

  it('with shutdownSignals: SIGTERM stores the running capture as aborted, then the signal ends the process', async () => {
    const sink = join(tmp, 'sigterm-hook-sink')
    const { ready, exit, exitMs } = await sigtermScenario('hook', sink)
    assert.equal(ready.sigtermListeners, 1, "Tripwire's handler is the only SIGTERM listener")
    assert.deepEqual(
      { code: exit.code, signal: exit.signal },
      { code: null, signal: 'SIGTERM' },
      're-raised signal',
    )
    assert.ok(exitMs < 5000, `exited ${Math.round(exitMs)} ms after SIGTERM`)

    const { meta, profile } = await readStoredCpuCapture(sink, ready.id)
    assert.equal(meta.status, 'aborted')
    assert.equal(meta.requested.durationMs, 20_000)
    assert.ok(meta.durationMs !== undefined && meta.durationMs < 20_000, `durationMs ${meta.durationMs}`)
    assert.ok(busyHits(profile) > 0, 'the profile covers the requests served before SIGTERM')
  })

  it("with shutdownSignals and the application's own SIGTERM handler, the capture is stored and the application ends the process", async () => {
    const sink = join(tmp, 'sigterm-app-sink')
    const { ready, exit } = await sigtermScenario('hook-and-app', sink)
    assert.equal(ready.sigtermListeners, 2)
    assert.deepEqual(
      { code: exit.code, signal: exit.signal },
      { code: 0, signal: null },
      "the application's graceful shutdown ran to its own exit",
    )
    const { meta } = await readStoredCpuCapture(sink, ready.id)
    assert.equal(meta.status, 'aborted')
  })

  it('without shutdownSignals: SIGTERM ends the process and no capture is stored (the default)', async () => {
    const sink = join(tmp, 'sigterm-default-sink')
    const { ready, exit } = await sigtermScenario('no-hook', sink)
    assert.equal(ready.sigtermListeners, 0, 'Tripwire installs no signal handler by default')
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: null, signal: 'SIGTERM' })
    const files = await listDir(sink)
    assert.deepEqual(
      files.filter((name) => name.endsWith('.json') || name.endsWith('.cpuprofile')),
      [],
      'nothing is stored without the hook',
    )
  })

  it('close() mid-capture stores it as aborted, refuses later starts, and leaves nothing keeping the process alive', async () => {
    const sink = join(tmp, 'close-sink')
    const run = runScenario('close-mid-capture.mjs', [sink])
    const result = await run.result<{
      id: string
      closeMs: number
      done: { status: string; durationMs: number }
      later: { rejected: boolean; code?: string }
      current: unknown
      storing: number
      counters: { started: number; aborted: number }
    }>()
    const exit = await run.exited
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null })
    const lingerMs = exit.at - run.resultAt()
    assert.ok(
      lingerMs < 3000,
      `the process exited ${Math.round(lingerMs)} ms after close() (dangling handles?)`,
    )

    assert.equal(result.done.status, 'aborted', 'handle.done settles with the stored metadata')
    assert.equal(result.later.rejected, true)
    assert.equal(result.later.code, 'ERR_TRIPWIRE_CLOSED')
    assert.equal(result.current, null)
    assert.equal(result.storing, 0)
    assert.deepEqual(result.counters, { started: 1, aborted: 1 })

    const { meta, profile } = await readStoredCpuCapture(sink, result.id)
    assert.equal(meta.status, 'aborted')
    assert.equal(meta.durationMs, result.done.durationMs)
    assert.ok(
      meta.durationMs !== undefined && meta.durationMs >= 250 && meta.durationMs < 5000,
      `durationMs ${meta.durationMs}`,
    )
    assert.ok(busyHits(profile) > 0, 'the profile covers the work done before close()')
  })
})
