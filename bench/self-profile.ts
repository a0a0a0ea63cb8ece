/**
 * Profiles Tripwire's own cost with Tripwire: starts a load-test server (bench/load/server.ts) with a CPU
 * capture running, puts it under load for a few seconds, and prints the capture's hottest functions.
 *
 *   node --import tsx bench/self-profile.ts [--framework express|koa|fastify] [--scenario idle|attack|attack-fresh]
 *     [--handler tiny|cpu] [--seconds N] [--limit N]
 *
 * This is how a missed target is investigated: `--scenario attack` shows where a request with a bad token
 * spends its time.
 */
import { readFile, rm, mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { LocalDiskSink, renderTop, type CpuProfile } from '@tripwire/core'
import { load } from './load/load.js'
import { attackOf, FRAMEWORKS, HANDLERS, isOneOf, type Handler } from './load/scenarios.js'
import { killServer, startServer } from './load/server-process.js'

const PROFILED_SCENARIOS = ['idle', 'attack', 'attack-fresh'] as const
// The capture outlasts the load by this much, then has this long to be stored
const CAPTURE_MARGIN_MS = 500
const STORE_TIMEOUT_MS = 15_000

const { values } = parseArgs({
  options: {
    framework: { type: 'string', default: 'express' },
    scenario: { type: 'string', default: 'attack' },
    handler: { type: 'string', default: 'tiny' },
    seconds: { type: 'string', default: '5' },
    limit: { type: 'string', default: '15' },
  },
})
const { framework, scenario, handler } = values
const seconds = Number(values.seconds)
const limit = Number(values.limit)
if (
  !isOneOf(FRAMEWORKS, framework) ||
  !isOneOf(PROFILED_SCENARIOS, scenario) ||
  !isOneOf<Handler>(HANDLERS, handler) ||
  !(seconds >= 1 && seconds <= 60) ||
  !(Number.isInteger(limit) && limit >= 1)
) {
  console.error(
    `usage: self-profile.ts [--framework ${FRAMEWORKS.join('|')}] [--scenario ${PROFILED_SCENARIOS.join('|')}] ` +
      `[--handler ${HANDLERS.join('|')}] [--seconds 1..60] [--limit N]`,
  )
  process.exit(2)
}

const dir = await mkdtemp(join(tmpdir(), 'tripwire-self-profile-'))
const server = await startServer({
  framework,
  handler,
  scenario,
  iterations: 100_000,
  captureMs: seconds * 1000 + CAPTURE_MARGIN_MS,
  dir,
  selfProfile: true,
})
try {
  const result = await load({ port: server.port, durationSec: seconds, attack: attackOf(scenario) })
  console.log(
    `${framework}/${scenario}/${handler}: ${Math.round(result.requestsPerSec)} req/s over ${seconds} s ` +
      `(p99 ${result.latencyP99Ms} ms) with a CPU capture running`,
  )
  const sink = new LocalDiskSink({ dir })
  const deadline = performance.now() + CAPTURE_MARGIN_MS + STORE_TIMEOUT_MS
  let id: string | undefined
  while (id === undefined && performance.now() < deadline) {
    const page = await sink.list({ limit: 1 })
    id = page.items.find((meta) => meta.status === 'completed')?.id
    if (id === undefined) await sleep(100)
  }
  if (id === undefined) throw new Error('the capture was not stored in time')
  const profile = JSON.parse(await readFile(join(dir, `${id}.cpuprofile`), 'utf8')) as CpuProfile
  console.log(renderTop(profile, 'cpu', { limit }))
} finally {
  killServer(server)
  await rm(dir, { recursive: true, force: true })
}
