/**
 * Tripwire's idle cost, part by part, in one process: a `bare-and-idle --parts` server (bench/load/server.ts)
 * under load, each app taking turns with `bare` for a number of rounds; prints each app's throughput over
 * bare's, per round and as median, min and max.
 *
 *   node --import tsx bench/parts.ts [--framework express|koa|fastify] [--traffic plain|replayed|fresh]
 *     [--rounds N] [--seconds S]
 *
 * The apps, each with one middleware (on Fastify an `onRequest` hook) of its own: `empty` does nothing but
 * pass the request on (what the framework charges for any middleware), `timing` times the response for the
 * latency tables, `header` looks for the trigger header (and refuses a forged token), `idle` is the adapter,
 * all of it. Two controls with no Tripwire in them show the least that timing a response can cost:
 * `listener` (one shared no-op function as the response's `'close'` listener) and `clocks` (a closure reading
 * the clock at the start and on `'close'`). Beside each ratio it prints the CPU time the app adds per request
 * (the server process's, all threads, over its turns). This is how the "Idle, part by part" figures in
 * bench/README.md are measured. Loopback only.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { pinLoadAndServer } from './load/cpu-pinning.js'
import { load } from './load/load.js'
import {
  ALTERNATE,
  type AppShares,
  cpuUsPerRequest,
  FRAMEWORKS,
  isOneOf,
  MODE_PATH,
  type Mode,
  REPORT,
} from './load/scenarios.js'
import { killServer, startServer, type ServerProcess } from './load/server-process.js'
import { summarize } from './stats.js'

const PARTS = ['empty', 'listener', 'clocks', 'timing', 'header', 'idle'] as const satisfies readonly Mode[]
const TRAFFIC = ['plain', 'replayed', 'fresh'] as const
const CONNECTIONS = 16
const TICK_MS = 100
const WARMUP_SEC = 1

const USAGE =
  `usage: bench/parts.ts [--framework ${FRAMEWORKS.join('|')}] [--traffic ${TRAFFIC.join('|')}] ` +
  '[--rounds 1…100] [--seconds S ≤ 30]'

function usageError(problem: string): never {
  console.error(`${USAGE}\n${problem}`)
  process.exit(2)
}

let values
try {
  values = parseArgs({
    options: {
      framework: { type: 'string', default: 'fastify' },
      traffic: { type: 'string', default: 'plain' },
      rounds: { type: 'string', default: '10' },
      seconds: { type: 'string', default: '2' },
    },
  }).values
} catch (error) {
  usageError((error as Error).message)
}
const { framework, traffic } = values
const rounds = Number(values.rounds)
const seconds = Number(values.seconds)
if (!isOneOf(FRAMEWORKS, framework)) usageError(`unknown framework ${framework}`)
if (!isOneOf(TRAFFIC, traffic)) usageError(`unknown traffic ${traffic}`)
if (!(Number.isInteger(rounds) && rounds >= 1 && rounds <= 100)) usageError(`--rounds ${values.rounds}`)
if (!(seconds > 0 && seconds <= 30)) usageError(`--seconds ${values.seconds}`)
const attack = traffic === 'plain' ? undefined : traffic

async function command(server: ServerProcess, name: string): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${server.port}${MODE_PATH}${name}`)
  const answer = await response.text()
  if (!response.ok) throw new Error(`${name} refused: ${answer}`)
  return answer
}

/** One load with `part` and bare in turns (`partFirst` says which starts): the requests and time of each. */
async function alternatingLoad(server: ServerProcess, part: Mode, partFirst: boolean, loadSec: number) {
  await command(server, [ALTERNATE, ...(partFirst ? [part, 'bare'] : ['bare', part])].join('/'))
  const result = await load({
    port: server.port,
    durationSec: loadSec,
    connections: CONNECTIONS,
    attack,
    tickMs: TICK_MS,
  })
  if (result.errors > 0 || result.non2xx > 0) {
    throw new Error(`${part}: ${result.errors} errors, ${result.non2xx} answers other than 2xx`)
  }
  return JSON.parse(await command(server, REPORT)) as AppShares
}

/** The part's req/s over bare's, and the CPU time it adds per request (µs), in one alternating load. */
async function roundOf(server: ServerProcess, part: Mode, partFirst: boolean, loadSec: number) {
  const shares = await alternatingLoad(server, part, partFirst, loadSec)
  const shareOf = (mode: Mode) => {
    const share = shares[mode]
    if (share === undefined || share.requests === 0) throw new Error(`${mode} served no request`)
    return share
  }
  const [mine, bare] = [shareOf(part), shareOf('bare')]
  return {
    ratio: mine.requests / mine.ms / (bare.requests / bare.ms),
    cpuAddedUs: cpuUsPerRequest(mine) - cpuUsPerRequest(bare),
  }
}

const pinning = pinLoadAndServer()
const dir = await mkdtemp(join(tmpdir(), 'tripwire-bench-parts-'))
let server: ServerProcess | undefined
try {
  server = await startServer({
    framework,
    handler: 'tiny',
    scenario: 'bare-and-idle',
    iterations: 1,
    captureMs: 60_000,
    dir,
    parts: true,
    ...(pinning !== undefined && { cpu: pinning.serverCpu }),
  })
  console.log(
    `${framework}, tiny handler, ${traffic} traffic: each app against bare in one process, in turns; ` +
      `${rounds} rounds of ${seconds} s per app${pinning === undefined ? '' : ', server and load on a core each'}`,
  )
  // a warm-up may end before the second app's turn; no longer than a round
  for (const part of PARTS) await alternatingLoad(server, part, true, Math.min(WARMUP_SEC, 2 * seconds))
  const ratios = new Map<Mode, number[]>(PARTS.map((part) => [part, []]))
  const cpuAdded = new Map<Mode, number[]>(PARTS.map((part) => [part, []]))
  for (let round = 0; round < rounds; round++) {
    const line: string[] = []
    // each round starts with the next part, and flips which app of a pair serves first
    for (let index = 0; index < PARTS.length; index++) {
      const part = PARTS[(round + index) % PARTS.length]!
      const { ratio, cpuAddedUs } = await roundOf(server, part, round % 2 === 0, 2 * seconds)
      ratios.get(part)!.push(ratio)
      cpuAdded.get(part)!.push(cpuAddedUs)
      line.push(`${part} ${ratio.toFixed(3)}`)
    }
    console.log(`  round ${round + 1}: ${line.join(', ')}`)
  }
  console.log('app vs bare, median (min–max): req/s, and CPU time added per request')
  const range = ({ value, min, max }: { value: number; min: number; max: number }, digits: number) =>
    `${value.toFixed(digits)} (${min.toFixed(digits)}–${max.toFixed(digits)})`
  for (const part of PARTS) {
    const rate = range(summarize(ratios.get(part)!), 3)
    console.log(`  ${part.padEnd(7)} ${rate}  ${range(summarize(cpuAdded.get(part)!), 2)} µs`)
  }
} finally {
  if (server !== undefined) killServer(server)
  pinning?.release()
  await rm(dir, { recursive: true, force: true })
}
