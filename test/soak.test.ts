/**
 * A 60-second soak: an Express service with Tripwire (test/scenarios/soak-server.mjs, a process of its own)
 * under full load from autocannon in this process, one request in ten carrying a forged trigger token, and a
 * CPU capture started through the admin API every 10 s. Every capture must be stored whole, nothing may
 * go unhandled, and the server's RSS and open file descriptors must stay flat once warmed up. The figures
 * are printed as TAP diagnostics. The scenario runs the BUILT packages (`npm run build` first).
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import type { CaptureMeta, CpuProfile, TripwireStatus } from '@tripwire/core'
import { adminToken, HMAC_KID, SECRET, SERVICE, sign } from './conformance/tokens.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SOAK_SERVER = join(ROOT, 'test', 'scenarios', 'soak-server.mjs')
const PREFIX = '/_tripwire'

const LOAD_SECONDS = 60
const CONNECTIONS = 32
/** One request in this many carries a forged x-trigger-profile token. */
const FORGED_EVERY = 10
/**
 * More distinct forged tokens than the 1,024 the server remembers, cycled through: the forged-token cache
 * churns, and the verification budget is spent every second, as under a real attack.
 */
const FORGED_POOL_SIZE = 2048
const FORGER_SECRET = 'not-the-service-secret-but-at-least-32-bytes-long'
const CAPTURE_EVERY_MS = 10_000
const FIRST_CAPTURE_AT_MS = 5000
const CAPTURE_COUNT = 6
/** Short enough to end well before the next one starts, so that none is refused as busy. */
const CAPTURE_DURATION_MS = 3000

/**
 * What flat means, with margins chosen from measured runs (two cores, 5.7–6.7k req/s):
 * - Under load the server held 53 fds (the 32 load connections plus a fixed set: stdio, epoll, the inspector,
 *   the sink's temporary files while a capture is stored), varying by at most 1. After the warm-up the count
 *   may not pass the warm-up's max by more than FD_MARGIN: a leak per connection or per few thousand requests
 *   goes past it within seconds. A leak per capture (five after the warm-up) would not, so the idle count is
 *   also compared before and after the load: it came back to exactly its value (21) in every run.
 * - RSS settles within the first 15 s (JIT, the heap growing to its working size, the first capture's
 *   profiler buffers). The max of the last 20 s then differed from the max of 15–35 s by -4 to +6 MB. Those
 *   maxima are ~25 s apart, so RSS_MARGIN_BYTES fails any leak faster than ~1.6 MB/s, ~250 bytes a request at these
 *   rates (a trial run retaining 300 bytes a request grew by 136 MB), with room left for a late GC cycle.
 */
const WARM_UP_SECONDS = 15
const FD_MARGIN = 10
const IDLE_FD_MARGIN = 3
const RSS_MARGIN_BYTES = 40 * 1024 * 1024
const MB = 1024 * 1024

/** autocannon's promise is also its run, which `stop()` ends early (bench/load's declarations leave it out). */
type LoadRun = ReturnType<typeof autocannon> & { stop?: () => void }

interface Sample {
  /** Seconds since the load started, as this process received the sample (negative before). */
  at: number
  rss: number
  heapUsed: number
  /** null where the platform has no /proc/self/fd. */
  fds: number | null
  served: number
  unhandledRejections: number
  uncaughtExceptions: number
}

interface SoakServer {
  child: ChildProcess
  /** Resolves once the child has exited and its output is read. */
  exited: Promise<void>
  port: Promise<number>
  samples: Sample[]
  /** Sample times are measured from this performance.now() reading; samples taken earlier have `at` < 0. */
  startClock(): void
  /** The next sample to arrive (at most ~1 s away while the server runs). */
  nextSample(): Promise<Sample>
  stderr(): string
}

function startSoakServer(dir: string): SoakServer {
  const child = spawn(process.execPath, [SOAK_SERVER, dir, SERVICE, HMAC_KID, SECRET], {
    cwd: ROOT,
    // stdin stays open: the server exits when it closes, should this process die without killing it
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const samples: Sample[] = []
  let clockStart = performance.now()
  const waiting: ((sample: Sample) => void)[] = []
  const port = new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout })
    lines.on('line', (line) => {
      const parsed = JSON.parse(line) as { port?: number } & Omit<Sample, 'at'>
      if (parsed.port !== undefined) return resolve(parsed.port)
      const sample = { ...parsed, at: (performance.now() - clockStart) / 1000 }
      samples.push(sample)
      for (const resolveSample of waiting.splice(0)) resolveSample(sample)
    })
    child.once('error', reject)
    child.once('exit', (code, signal) =>
      reject(new Error(`the soak server exited (${code ?? signal}) before listening:\n${stderr}`)),
    )
  })
  port.catch(() => undefined)
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
  return {
    child,
    exited,
    port,
    samples,
    startClock: () => {
      const now = performance.now()
      for (const sample of samples) sample.at -= (now - clockStart) / 1000
      clockStart = now
    },
    nextSample: () =>
      new Promise((resolve, reject) => {
        waiting.push(resolve)
        setTimeout(() => reject(new Error('no sample from the soak server within 5 s')), 5000).unref()
      }),
    stderr: () => stderr,
  }
}

interface AdminResponse {
  status: number
  body: Buffer
}

/** One admin API call on a connection of its own, so that no pooled connection adds to the server's fds. */
function admin(
  port: number,
  method: string,
  path: string,
  scope: string,
  body?: object,
): Promise<AdminResponse> {
  const payload = body === undefined ? undefined : JSON.stringify(body)
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: `${PREFIX}${path}`,
        agent: false,
        headers: {
          authorization: `Bearer ${adminToken(scope)}`,
          ...(payload !== undefined && { 'content-type': 'application/json' }),
        },
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('error', reject)
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }))
      },
    )
    req.setTimeout(15_000, () => req.destroy(new Error(`${method} ${path} timed out`)))
    req.on('error', reject)
    req.end(payload)
  })
}

async function startCapture(port: number, index: number): Promise<string> {
  const response = await admin(port, 'POST', '/captures', 'profiles:write', {
    kind: 'cpu',
    durationMs: CAPTURE_DURATION_MS,
    reason: `soak capture ${index + 1}`,
  })
  assert.equal(response.status, 202, `capture ${index + 1} started: ${response.body.toString()}`)
  return (JSON.parse(response.body.toString()) as CaptureMeta).id
}

/** The capture's metadata once it has left `running` (bounded: the capture is 3 s long). */
async function storedMeta(port: number, id: string): Promise<CaptureMeta> {
  const deadline = performance.now() + 15_000
  while (performance.now() < deadline) {
    const response = await admin(port, 'GET', `/captures/${id}`, 'profiles:read')
    if (response.status === 200) {
      const meta = JSON.parse(response.body.toString()) as CaptureMeta
      if (meta.status !== 'running') return meta
    } else assert.equal(response.status, 409, `GET capture ${id}: ${response.body.toString()}`)
    await sleep(100)
  }
  assert.fail(`capture ${id} was not stored within 15 s`)
}

async function assertStoredWhole(port: number, id: string): Promise<CaptureMeta> {
  const meta = await storedMeta(port, id)
  assert.equal(meta.status, 'completed', `capture ${id}: ${JSON.stringify(meta.error ?? {})}`)
  const download = await admin(port, 'GET', `/captures/${id}/profile`, 'profiles:read')
  assert.equal(download.status, 200, `download of ${id}`)
  assert.equal(download.body.length, meta.bytes, `${id}: meta.bytes is the body's length`)
  assert.equal(
    createHash('sha256').update(download.body).digest('hex'),
    meta.sha256,
    `${id}: meta.sha256 is the body's digest`,
  )
  const profile = JSON.parse(download.body.toString('utf8')) as CpuProfile
  assert.ok(profile.nodes.length > 0, `${id}: the profile has nodes`)
  assert.ok((profile.samples?.length ?? 0) > 0, `${id}: the profile has samples`)
  return meta
}

/** Forged tokens: the right service and kid, the wrong secret, each with its own jti. */
function forgedTokens(count: number): string[] {
  return Array.from({ length: count }, () =>
    sign({ scope: 'profiles:trigger', jti: randomUUID() }, { secret: FORGER_SECRET }),
  )
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}
const max = (values: readonly number[]): number => Math.max(...values)
const min = (values: readonly number[]): number => Math.min(...values)
const spread = (values: readonly number[], unit = 1): string =>
  `${(min(values) / unit).toFixed(0)}/${(median(values) / unit).toFixed(0)}/${(max(values) / unit).toFixed(0)}`

/**
 * A sample once the load's connections are closed: the server is given a few seconds to close its ends of
 * them before its open fds are compared with `idleBefore`.
 */
async function settledSample(server: SoakServer, idleBefore: Sample): Promise<Sample> {
  let sample = await server.nextSample()
  for (let waited = 0; waited < 5; waited++) {
    if (sample.fds === null || idleBefore.fds === null || sample.fds <= idleBefore.fds + IDLE_FD_MARGIN) break
    sample = await server.nextSample()
  }
  return sample
}

function within(samples: readonly Sample[], fromSec: number, toSec: number): Sample[] {
  return samples.filter((sample) => sample.at >= fromSec && sample.at < toSec)
}

test(
  `soak: ${LOAD_SECONDS} s of full load, forged tokens and a capture every 10 s`,
  { timeout: 90_000 },
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'tripwire-soak-'))
    const server = startSoakServer(dir)
    let load: LoadRun | undefined
    try {
      const port = await server.port
      const idleBefore = await server.nextSample()
      const forged = forgedTokens(FORGED_POOL_SIZE)
      let sent = 0
      let forgedSent = 0
      server.startClock()
      const loadBegun = performance.now()
      load = autocannon({
        url: `http://127.0.0.1:${port}/items/0`,
        connections: CONNECTIONS,
        duration: LOAD_SECONDS,
        timeout: 10,
        requests: [
          {
            setupRequest: (params) => {
              sent++
              // many ids, one route template: the route table sees one route, as in a real service
              const path = `/items/${sent % 1000}`
              if (sent % FORGED_EVERY !== 0) return { ...params, path }
              // in turn, oldest first: each comes back only after the server has forgotten it
              const token = forged[forgedSent++ % FORGED_POOL_SIZE]!
              return { ...params, path, headers: { ...params.headers, 'x-trigger-profile': token } }
            },
          },
        ],
      })
      // a failed capture start ends the test before the load is awaited: its outcome is settled in finally
      load.catch(() => undefined)

      const captureIds: string[] = []
      for (let index = 0; index < CAPTURE_COUNT; index++) {
        const dueInMs = loadBegun + FIRST_CAPTURE_AT_MS + index * CAPTURE_EVERY_MS - performance.now()
        if (dueInMs > 0) await sleep(dueInMs)
        captureIds.push(await startCapture(port, index))
      }
      const result = await load

      // every sample the load produced, then one more after the downloads below, for late failures
      const loadSamples = within(server.samples, 0, LOAD_SECONDS + 0.5)
      const metas: CaptureMeta[] = []
      for (const id of captureIds) metas.push(await assertStoredWhole(port, id))
      const status = JSON.parse(
        (await admin(port, 'GET', '/status', 'profiles:read')).body.toString(),
      ) as TripwireStatus
      const idleAfter = await settledSample(server, idleBefore)

      // what the run looked like, whatever the assertions below decide
      const requestsPerSec = result.requests.total / (result.duration > 0 ? result.duration : LOAD_SECONDS)
      t.diagnostic(
        `load: ${result.requests.total} requests in ${result.duration.toFixed(1)} s = ${requestsPerSec.toFixed(0)} req/s ` +
          `(${CONNECTIONS} connections), latency p50 ${result.latency.p50} ms p99 ${result.latency.p99} ms, ` +
          `errors ${result.errors}, timeouts ${result.timeouts}, non-2xx ${result.non2xx}`,
      )
      t.diagnostic('per 10 s: RSS MB min/median/max | fds min/median/max | heapUsed MB median | served req/s')
      let servedBefore = within(server.samples, -Infinity, 0).at(-1) ?? { served: 0, at: 0 }
      for (let from = 0; from < LOAD_SECONDS; from += 10) {
        const stretch = within(loadSamples, from, from + 10)
        if (stretch.length === 0) continue
        const last = stretch.at(-1)!
        const rate = (last.served - servedBefore.served) / (last.at - servedBefore.at)
        servedBefore = last
        const fds = stretch.map((s) => s.fds).filter((fd): fd is number => fd !== null)
        t.diagnostic(
          `${String(from).padStart(2)}–${from + 10} s: RSS ${spread(
            stretch.map((s) => s.rss),
            MB,
          )} | fds ${fds.length > 0 ? spread(fds) : 'n/a'} | heap ${(median(stretch.map((s) => s.heapUsed)) / MB).toFixed(0)} | ${rate.toFixed(0)} req/s`,
        )
      }
      const trigger = status.trigger
      t.diagnostic(
        `captures: ${metas.map((meta) => `${meta.durationMs} ms/${meta.bytes} B`).join(', ')}; forged tokens ` +
          `refused: ${JSON.stringify(trigger.rejected)}`,
      )

      assert.equal(result.errors, 0, 'no request failed')
      assert.equal(result.timeouts, 0, 'no request timed out')
      assert.equal(result.non2xx, 0, 'every request, forged token or not, was served normally')
      assert.ok(result.requests.total > 0)

      assert.equal(metas.length, CAPTURE_COUNT)
      assert.deepEqual(
        {
          started: status.counters.started,
          completed: status.counters.completed,
          failed: status.counters.failed,
        },
        { started: CAPTURE_COUNT, completed: CAPTURE_COUNT, failed: 0 },
      )
      assert.equal(trigger.accepted, 0, 'no forged token started a capture')
      assert.deepEqual(
        Object.keys(trigger.rejected).sort(),
        ['bad-signature', 'over-verification-budget'],
        'forged tokens were refused for their signature or, past the budget, unverified',
      )

      assert.ok(loadSamples.length >= LOAD_SECONDS - 5, `${loadSamples.length} samples during the load`)
      for (const sample of [...server.samples, idleAfter]) {
        assert.equal(sample.unhandledRejections, 0, `no unhandled rejection:\n${server.stderr()}`)
        assert.equal(sample.uncaughtExceptions, 0, `no uncaught exception:\n${server.stderr()}`)
      }

      const warmUp = within(loadSamples, 0, WARM_UP_SECONDS)
      const afterWarmUp = within(loadSamples, WARM_UP_SECONDS, LOAD_SECONDS + 1)
      if (loadSamples.every((sample) => sample.fds !== null)) {
        const warmUpFds = max(warmUp.map((s) => s.fds!))
        const laterFds = max(afterWarmUp.map((s) => s.fds!))
        t.diagnostic(
          `fds: idle ${idleBefore.fds} before the load, ${idleAfter.fds} after; max ${warmUpFds} in the warm-up, ` +
            `${laterFds} after it`,
        )
        assert.ok(
          laterFds <= warmUpFds + FD_MARGIN,
          `open fds after warm-up peaked at ${laterFds}, over the warm-up's ${warmUpFds} + ${FD_MARGIN}`,
        )
        assert.ok(
          idleAfter.fds! <= idleBefore.fds! + IDLE_FD_MARGIN,
          `idle, the server holds ${idleAfter.fds} fds after the run and held ${idleBefore.fds} before it`,
        )
      } else t.diagnostic('no /proc/self/fd on this platform: open file descriptors not checked')

      const middleRss = max(within(loadSamples, WARM_UP_SECONDS, 35).map((s) => s.rss))
      const lastRss = max(within(loadSamples, LOAD_SECONDS - 20, LOAD_SECONDS + 1).map((s) => s.rss))
      t.diagnostic(
        `RSS max 15–35 s ${(middleRss / MB).toFixed(1)} MB, last 20 s ${(lastRss / MB).toFixed(1)} MB ` +
          `(growth ${((lastRss - middleRss) / MB).toFixed(1)} MB, margin ${RSS_MARGIN_BYTES / MB} MB)`,
      )
      assert.ok(
        lastRss - middleRss < RSS_MARGIN_BYTES,
        `RSS grew by ${((lastRss - middleRss) / MB).toFixed(1)} MB between 15–35 s and the last 20 s`,
      )
    } finally {
      load?.stop?.()
      server.child.kill('SIGKILL')
      await server.exited
      // a stopped run ends at its next tick (at most a second), and never waits out its duration
      await load?.catch(() => undefined)
      await rm(dir, { recursive: true, force: true })
    }
  },
)
