import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { pinLoadAndServer, type CpuPinning } from '../load/cpu-pinning.js'
import { load, type LoadOptions, type LoadResult } from '../load/load.js'
import {
  burnCpu,
  FRAMEWORKS,
  ALTERNATE,
  type AppShare,
  cpuUsPerRequest,
  type AppShares,
  MODE_PATH,
  REPORT,
  type Framework,
  type Handler,
  type Mode,
  type Scenario,
} from '../load/scenarios.js'
import { killServer, peakRssMb, startServer, type ServerProcess } from '../load/server-process.js'
import { median, round, summarize } from '../stats.js'
import type { BenchOptions, BenchResult, BenchTarget } from '../types.js'

export const name = 'load-overhead'

const CONNECTIONS = 16
const CPU_HANDLER_MS = 1
// A capture started at launch must outlast its group's load; this bounds it
const MAX_CAPTURE_MS = 300_000

/** What the load sends: no trigger header, one forged token replayed, or a fresh forged token per request. */
type Traffic = NonNullable<LoadOptions['attack']> | 'plain'

/**
 * One measurement: a server (one process per server scenario, shared by its cells) under one kind of traffic.
 * On the `bare-and-idle` server, one load serves two of its apps (`pair`) in turns, and yields a figure for
 * each (`appFigure`). Attack traffic is compared with bare under the same traffic, so that the figure is
 * Tripwire's cost, not the cost of parsing a longer request.
 */
interface Cell {
  name: string
  server: Scenario
  pair?: readonly [Mode, Mode]
  traffic: Traffic
}

const withTraffic = (name: string, traffic: Traffic): string =>
  traffic === 'plain' ? name : `${name}+${traffic}`

const cell = (server: Scenario, traffic: Traffic = 'plain'): Cell => ({
  name: withTraffic(server, traffic),
  server,
  traffic,
})

/** A cell of the `bare-and-idle` server: bare and another of its apps in turn, under one kind of traffic. */
const oneProcess = (other: Exclude<Mode, 'bare'>, traffic: Traffic = 'plain'): Cell => ({
  name: withTraffic(`one-process:bare-${other}`, traffic),
  server: 'bare-and-idle',
  pair: ['bare', other],
  traffic,
})

/** The figure of one app in an alternating cell: `one-process:bare-idle+replayed/idle`, … */
const appFigure = (c: Cell, mode: Mode): string => `${c.name}/${mode}`

interface Plan {
  rounds: number
  roundSec: number
  warmupSec: number
  /** autocannon's sample interval: a load ends on the first tick past its duration. */
  tickMs: number
  cells: Record<Handler, Cell[]>
}

/** How long a load of `seconds` runs: rounded up to a whole tick. */
function loadSec(seconds: number, plan: Plan): number {
  return (Math.ceil((seconds * 1000) / plan.tickMs) * plan.tickMs) / 1000
}

/** How long a cell loads its server per round: an alternating cell serves two apps, each for `seconds`. */
const cellSec = (c: Cell, seconds: number): number => (c.pair !== undefined ? 2 * seconds : seconds)

/** The load a group of cells takes, warm-up included. */
function groupLoadSec(plan: Plan, cells: Cell[]): number {
  return cells.reduce(
    (sum, c) =>
      sum +
      loadSec(cellSec(c, plan.warmupSec), plan) +
      plan.rounds * loadSec(cellSec(c, plan.roundSec), plan),
    0,
  )
}

const TINY_CELLS = [
  cell('bare'),
  // a second bare process: how far two processes of the same code differ, which is why the comparisons that
  // carry the targets are made within one process
  cell('bare-twin'),
  ...(['plain', 'replayed', 'fresh'] as const).map((traffic) => oneProcess('idle', traffic)),
  // what the framework charges for any middleware or hook, beside which Tripwire's own cost is read
  oneProcess('empty'),
]

// Per framework and round: 10 loads' worth on the tiny handler (the 4 alternating cells load twice as long)
// and 8 on the cpu handler (one alternating cell), ~1.3 s each with autocannon's own start and stop: the
// budget of 10 minutes for the whole run sets the length. A tick of 100 ms keeps the rounds as long as
// planned (at autocannon's 1 s tick, every load lasts a whole number of seconds)
const FULL: Plan = {
  rounds: 5,
  roundSec: 1.2,
  warmupSec: 0.6,
  tickMs: 100,
  cells: {
    tiny: TINY_CELLS,
    cpu: [
      ...(
        ['idle', 'cpu-capture', 'cpu-capture-1ms', 'cpu-capture-100us', 'heap-capture', 'peer'] as const
      ).map((server) => cell(server)),
      // idle against bare on a handler doing work, where a per-request cost weighs what it does in a service
      oneProcess('idle'),
    ],
  },
}
// A smoke test: every framework, server kind and traffic kind once, in under a minute. A tick of 100 ms keeps
// the rounds as short as planned; at autocannon's 1 s, every load would last a whole second.
const QUICK: Plan = {
  rounds: 2,
  roundSec: 0.4,
  warmupSec: 0.2,
  tickMs: 100,
  cells: {
    tiny: [
      cell('bare'),
      cell('bare-twin'),
      ...(['plain', 'replayed', 'fresh'] as const).map((traffic) => oneProcess('idle', traffic)),
      oneProcess('empty'),
    ],
    cpu: [...(['idle', 'cpu-capture', 'peer'] as const).map((server) => cell(server)), oneProcess('idle')],
  },
}

/**
 * A figure: one cell over another (its baseline), per round, on one handler. A figure of two apps in one
 * process can also give the CPU time the app adds per request (`cpuAdded`: the label of that figure).
 */
interface Ratio {
  key: string
  label: string
  handler: Handler
  cell: string
  baseline: string
  target?: BenchTarget
  cpuAdded?: string
}

/** A figure of one app against bare, the two serving in turns in one process under one kind of traffic. */
function againstBareInTurns(
  other: Exclude<Mode, 'bare'>,
  traffic: Traffic,
  figure: Omit<Ratio, 'cell' | 'baseline'>,
): Ratio {
  const inTurns = oneProcess(other, traffic)
  return { ...figure, cell: appFigure(inTurns, other), baseline: appFigure(inTurns, 'bare') }
}

const RATIOS: Ratio[] = [
  {
    key: 'bare-twin-vs-bare',
    label: 'a second bare process vs bare (resolution)',
    handler: 'tiny',
    cell: 'bare-twin',
    baseline: 'bare',
  },
  againstBareInTurns('idle', 'plain', {
    key: 'idle-vs-bare',
    label: 'idle vs bare, one process',
    handler: 'tiny',
    target: { min: 0.99 },
    cpuAdded: 'CPU time Tripwire adds per request, idle',
  }),
  // no target: the framework's own cost of one middleware (an Express layer, a Koa middleware, a Fastify hook)
  againstBareInTurns('empty', 'plain', {
    key: 'empty-vs-bare',
    label: 'a middleware (Fastify: an onRequest hook) doing nothing vs bare, one process',
    handler: 'tiny',
    cpuAdded: 'CPU time a middleware (Fastify: an onRequest hook) doing nothing adds per request',
  }),
  againstBareInTurns('idle', 'replayed', {
    key: 'attack-vs-bare',
    label: 'attack (one forged token, replayed) vs bare under the same traffic, one process',
    handler: 'tiny',
    target: { min: 0.95 },
    cpuAdded: 'CPU time Tripwire adds per request, one forged token replayed',
  }),
  againstBareInTurns('idle', 'fresh', {
    key: 'attack-fresh-vs-bare',
    label: 'attack (a fresh forged token each request) vs bare under the same traffic, one process',
    handler: 'tiny',
    target: { min: 0.95 },
    cpuAdded: 'CPU time Tripwire adds per request, a fresh forged token each request',
  }),
  againstBareInTurns('idle', 'plain', {
    key: 'idle-vs-bare',
    label: 'idle vs bare, one process',
    handler: 'cpu',
    target: { min: 0.99 },
  }),
  {
    key: 'cpu-capture-vs-idle',
    label: 'CPU capture (default interval: 10 ms for this window) vs idle',
    handler: 'cpu',
    cell: 'cpu-capture',
    baseline: 'idle',
    target: { min: 0.97 },
  },
  {
    key: 'cpu-capture-1ms-vs-idle',
    label: 'CPU capture (1 ms) vs idle',
    handler: 'cpu',
    cell: 'cpu-capture-1ms',
    baseline: 'idle',
  },
  {
    key: 'cpu-capture-100us-vs-idle',
    label: 'CPU capture (100 µs) vs idle',
    handler: 'cpu',
    cell: 'cpu-capture-100us',
    baseline: 'idle',
  },
  {
    key: 'heap-capture-vs-idle',
    label: 'heap capture vs idle',
    handler: 'cpu',
    cell: 'heap-capture',
    baseline: 'idle',
  },
  {
    key: 'peer-vs-idle',
    label: '@datadog/pprof time profiler vs idle',
    handler: 'cpu',
    cell: 'peer',
    baseline: 'idle',
  },
  {
    key: 'cpu-capture-vs-peer',
    label: 'CPU capture (default interval) vs @datadog/pprof (its default, 1 ms)',
    handler: 'cpu',
    cell: 'cpu-capture',
    baseline: 'peer',
    target: { min: 1 },
  },
  {
    key: 'cpu-capture-1ms-vs-peer',
    label: 'CPU capture (1 ms) vs @datadog/pprof (1 ms): the same rate',
    handler: 'cpu',
    cell: 'cpu-capture-1ms',
    baseline: 'peer',
  },
]

/**
 * Iterations of burnCpu that take ~1 ms here, measured once in this process: every server gets the same
 * count, so the work per request is identical across scenarios.
 */
function calibrate(): number {
  const probe = 200_000
  for (let i = 0; i < 50; i++) burnCpu(probe)
  const samples: number[] = []
  for (let i = 0; i < 21; i++) {
    const t0 = performance.now()
    burnCpu(probe)
    samples.push(performance.now() - t0)
  }
  return Math.max(1, Math.round((probe * CPU_HANDLER_MS) / median(samples)))
}

/**
 * Runs load on one server and returns its figures by name: the cell's, or one per app of an alternating cell.
 * The servers not under test are stopped (SIGSTOP), so that an idle profiler's sampling thread in one server
 * cannot take CPU from another's round on two cores. `secondFirst` has the second app of the pair take the
 * first turn, which also holds the time from the command to the load's first request: the rounds take turns
 * at it.
 */
async function measure(
  server: ServerProcess,
  c: Cell,
  seconds: number,
  plan: Plan,
  { warmup = false, secondFirst = false } = {},
): Promise<[string, Measured][]> {
  process.kill(server.pid, 'SIGCONT')
  await sleep(50)
  try {
    if (c.pair !== undefined) {
      const [first, second] = c.pair
      await command(server, [ALTERNATE, ...(secondFirst ? [second, first] : [first, second])].join('/'))
    }
    const result = await load({
      port: server.port,
      durationSec: cellSec(c, seconds),
      connections: CONNECTIONS,
      attack: c.traffic === 'plain' ? undefined : c.traffic,
      tickMs: plan.tickMs,
    })
    if (c.pair === undefined) return [[c.name, result]]
    const shares = JSON.parse(await command(server, REPORT)) as AppShares
    return c.pair.map((mode, index) => {
      // a warm-up short beside a turn may end before the second app's turn; a round may not
      const share = shares[mode] ?? { requests: 0, ms: 0, cpuMs: 0 }
      if (share.requests === 0 && !warmup) throw new Error(`${c.name}: ${mode} served no request`)
      return [appFigure(c, mode), appShare(result, share, index === 0)]
    })
  } finally {
    process.kill(server.pid, 'SIGSTOP')
  }
}

/**
 * One app's part of an alternating load: its requests over the time it served them, and the CPU time they took.
 * Latency is the load's, and its failures (which cannot be told apart by app) are counted once, with the first
 * app.
 */
function appShare(load: LoadResult, share: AppShare, first: boolean): Measured {
  const seconds = share.ms / 1000
  return {
    ...load,
    requestsPerSec: share.requests / seconds,
    cpuUsPerRequest: cpuUsPerRequest(share),
    durationSec: seconds,
    requests: share.requests,
    ...(!first && { errors: 0, timeouts: 0, non2xx: 0 }),
  }
}

/** A load's result; for one app of an alternating load, also the process's CPU time per request it served. */
interface Measured extends LoadResult {
  cpuUsPerRequest?: number
}

/** A `bare-and-idle` server's command (`MODE_PATH`), checked. */
async function command(server: ServerProcess, name: string): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${server.port}${MODE_PATH}${name}`)
  const answer = await response.text()
  if (!response.ok) throw new Error(`${server.scenario}: ${name} refused: ${answer}`)
  return answer
}

interface GroupOutcome {
  framework: Framework
  handler: Handler
  perRound: Map<string, Measured[]>
  rssMb: Partial<Record<Scenario, number>>
  loadSec: number
}

async function runGroup(
  framework: Framework,
  handler: Handler,
  plan: Plan,
  iterations: number,
  pinning: CpuPinning | undefined,
  log: (line: string) => void,
): Promise<GroupOutcome> {
  const cells = plan.cells[handler]
  const scenarios = [...new Set(cells.map((c) => c.server))]
  const groupSec = groupLoadSec(plan, cells)
  const captureMs = Math.min(MAX_CAPTURE_MS, groupSec * 3000 + 60_000)
  const dir = await mkdtemp(join(tmpdir(), 'tripwire-bench-load-'))
  const servers: ServerProcess[] = []
  try {
    // One server per scenario, kept alive (and stopped between its rounds) for the whole group, whatever the
    // traffic. They start side by side, before any load, to keep the run short.
    const started = await Promise.allSettled(
      scenarios.map((scenario) =>
        startServer({
          framework,
          handler,
          scenario,
          iterations,
          captureMs,
          dir,
          ...(pinning !== undefined && { cpu: pinning.serverCpu }),
        }),
      ),
    )
    for (const outcome of started) if (outcome.status === 'fulfilled') servers.push(outcome.value)
    const failed = started.find((outcome) => outcome.status === 'rejected')
    if (failed !== undefined) throw failed.reason
    for (const server of servers) process.kill(server.pid, 'SIGSTOP')
    const serverOf = (c: Cell) => servers.find((server) => server.scenario === c.server)!
    for (const c of cells) await measure(serverOf(c), c, plan.warmupSec, plan, { warmup: true })
    const perRound = new Map<string, Measured[]>()
    for (let r = 0; r < plan.rounds; r++) {
      // Interleaved: every cell once per round, starting one later each round (A B C, B C A, …)
      for (let i = 0; i < cells.length; i++) {
        const c = cells[(r + i) % cells.length]!
        const secondFirst = r % 2 === 1
        for (const [name, result] of await measure(serverOf(c), c, plan.roundSec, plan, { secondFirst })) {
          const list = perRound.get(name)
          if (list === undefined) perRound.set(name, [result])
          else list.push(result)
        }
      }
    }
    const rssMb: Partial<Record<Scenario, number>> = {}
    for (const server of servers) {
      const mb = await peakRssMb(server.pid)
      if (mb !== undefined) rssMb[server.scenario] = mb
    }
    const summary = [...perRound]
      .map(([name, list]) => `${name} ${Math.round(median(list.map((x) => x.requestsPerSec)))}`)
      .join(', ')
    log(`${framework}/${handler}: req/s ${summary}`)
    return { framework, handler, perRound, rssMb, loadSec: groupLoadSec(plan, [cell('idle')]) }
  } finally {
    for (const server of servers) killServer(server)
    await rm(dir, { recursive: true, force: true })
  }
}

const rps = (list: LoadResult[]): number => Math.round(median(list.map((x) => x.requestsPerSec)))
const p99 = (list: LoadResult[]): number => median(list.map((x) => x.latencyP99Ms))

/** The end of every figure's note: the load as it ran, and any request that did not succeed. */
function loadNote(lists: LoadResult[][]): string {
  const all = lists.flat()
  const bad = all.reduce((sum, x) => sum + x.errors + x.timeouts + x.non2xx, 0)
  const seconds = Number(median(all.map((x) => x.durationSec)).toFixed(1))
  return (
    `${CONNECTIONS} connections, ${seconds} s rounds` + (bad > 0 ? `; ${bad} errors/timeouts/non-2xx` : '')
  )
}

function results(outcome: GroupOutcome): BenchResult[] {
  const { framework, handler, perRound } = outcome
  const out: BenchResult[] = []
  const figure = (
    key: string,
    label: string,
    unit: string,
    perRoundValues: number[],
    target: BenchTarget | undefined,
    note: string,
  ): BenchResult => {
    const { value, min, max } = summarize(perRoundValues)
    return {
      id: `load-overhead.${framework}.${handler}.${key}`,
      label: `${framework}, ${handler} handler: ${label}`,
      value: round(value),
      unit,
      ...(target === undefined ? {} : { target }),
      note,
      spread: { min: round(min), max: round(max), rounds: perRoundValues.length },
    }
  }
  const cpuOf = (x: Measured): number => {
    if (x.cpuUsPerRequest === undefined) throw new Error('a CPU time per request needs an alternating cell')
    return x.cpuUsPerRequest
  }
  for (const ratio of RATIOS) {
    if (ratio.handler !== handler) continue
    const num = perRound.get(ratio.cell)
    const den = perRound.get(ratio.baseline)
    if (num === undefined || den === undefined) continue
    const note =
      `median req/s ${rps(num)} vs ${rps(den)}; p99 ${p99(num)} vs ${p99(den)} ms; ` + loadNote([num, den])
    const ratios = num.map((x, i) => x.requestsPerSec / den[i]!.requestsPerSec)
    out.push(figure(ratio.key, `${ratio.label} (req/s)`, '×', ratios, ratio.target, note))
    if (ratio.cpuAdded !== undefined) {
      const cpuNote =
        `median ${round(median(num.map(cpuOf)))} vs ${round(median(den.map(cpuOf)))} µs a request: the ` +
        `server process's CPU time (all threads) over each app's turns, per request served; ` +
        loadNote([num, den])
      const added = num.map((x, i) => cpuOf(x) - cpuOf(den[i]!))
      out.push(
        figure(
          `${ratio.key.replace(/-vs-bare$/, '')}-cpu-added`,
          ratio.cpuAdded,
          'µs',
          added,
          undefined,
          cpuNote,
        ),
      )
    }
  }
  const { rssMb } = outcome
  if (rssMb['cpu-capture'] !== undefined && rssMb.idle !== undefined) {
    out.push({
      id: `load-overhead.${framework}.${handler}.cpu-capture-peak-rss-added`,
      label: `${framework}, ${handler} handler: peak RSS, CPU capture minus idle`,
      value: round(rssMb['cpu-capture'] - rssMb.idle),
      unit: 'MB',
      note:
        `VmHWM ${round(rssMb['cpu-capture'])} vs ${round(rssMb.idle)} MB after ${outcome.loadSec} s of load ` +
        `each, across two processes; capture-cost measures it within one process`,
    })
  }
  return out
}

export async function run(options: BenchOptions): Promise<BenchResult[]> {
  const { quick } = options
  const log = (line: string): void => options.log(line)
  const plan = quick ? QUICK : FULL
  const pinning = pinLoadAndServer()
  log(
    pinning === undefined
      ? 'not pinned (needs Linux, taskset and two cores): load and servers share every core'
      : `pinned: load generator on CPU ${pinning.loadCpu}, servers on CPU ${pinning.serverCpu}`,
  )
  try {
    const iterations = calibrate()
    log(`CPU handler: ${iterations} iterations of burnCpu ≈ ${CPU_HANDLER_MS} ms (calibrated here)`)
    const out: BenchResult[] = []
    for (const framework of FRAMEWORKS) {
      for (const handler of ['tiny', 'cpu'] as const) {
        out.push(...results(await runGroup(framework, handler, plan, iterations, pinning, log)))
      }
    }
    return out
  } finally {
    pinning?.release()
  }
}
