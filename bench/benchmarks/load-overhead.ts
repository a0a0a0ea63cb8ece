import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { pinLoadAndServer, type CpuPinning } from '../load/cpu-pinning.js'
import { load, type LoadResult } from '../load/load.js'
import {
  attackOf,
  burnCpu,
  FRAMEWORKS,
  type Framework,
  type Handler,
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

interface Plan {
  rounds: number
  roundSec: number
  warmupSec: number
  scenarios: Record<Handler, Scenario[]>
}

const FULL: Plan = {
  rounds: 5,
  roundSec: 2,
  warmupSec: 1,
  scenarios: {
    tiny: ['bare', 'idle', 'attack', 'attack-fresh'],
    cpu: ['idle', 'cpu-capture', 'cpu-capture-100us', 'cpu-capture-10ms', 'heap-capture', 'peer'],
  },
}
const QUICK: Plan = {
  rounds: 2,
  roundSec: 0.5,
  warmupSec: 0.25,
  scenarios: { tiny: ['bare', 'idle', 'attack', 'attack-fresh'], cpu: ['idle', 'cpu-capture', 'peer'] },
}

/** A figure: scenario over baseline, per round, on one handler. */
interface Ratio {
  key: string
  label: string
  handler: Handler
  scenario: Scenario
  baseline: Scenario
  target?: BenchTarget
}

const RATIOS: Ratio[] = [
  {
    key: 'idle-vs-bare',
    label: 'idle vs bare',
    handler: 'tiny',
    scenario: 'idle',
    baseline: 'bare',
    target: { min: 0.99 },
  },
  {
    key: 'attack-vs-bare',
    label: 'attack (one forged token, replayed) vs bare',
    handler: 'tiny',
    scenario: 'attack',
    baseline: 'bare',
    target: { min: 0.95 },
  },
  {
    key: 'attack-fresh-vs-bare',
    label: 'attack (a fresh forged token each request) vs bare',
    handler: 'tiny',
    scenario: 'attack-fresh',
    baseline: 'bare',
    target: { min: 0.95 },
  },
  {
    key: 'cpu-capture-vs-idle',
    label: 'CPU capture (1 ms) vs idle',
    handler: 'cpu',
    scenario: 'cpu-capture',
    baseline: 'idle',
    target: { min: 0.97 },
  },
  {
    key: 'cpu-capture-100us-vs-idle',
    label: 'CPU capture (100 µs) vs idle',
    handler: 'cpu',
    scenario: 'cpu-capture-100us',
    baseline: 'idle',
  },
  {
    key: 'cpu-capture-10ms-vs-idle',
    label: 'CPU capture (10 ms) vs idle',
    handler: 'cpu',
    scenario: 'cpu-capture-10ms',
    baseline: 'idle',
  },
  {
    key: 'heap-capture-vs-idle',
    label: 'heap capture vs idle',
    handler: 'cpu',
    scenario: 'heap-capture',
    baseline: 'idle',
  },
  {
    key: 'peer-vs-idle',
    label: '@datadog/pprof time profiler vs idle',
    handler: 'cpu',
    scenario: 'peer',
    baseline: 'idle',
  },
  {
    key: 'cpu-capture-vs-peer',
    label: 'CPU capture (1 ms) vs @datadog/pprof',
    handler: 'cpu',
    scenario: 'cpu-capture',
    baseline: 'peer',
    target: { min: 1 },
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
 * Runs load on one server. The servers not under test are stopped (SIGSTOP), so that an idle profiler's
 * sampling thread in one server cannot take CPU from another's round on two cores.
 */
async function round1(server: ServerProcess, seconds: number): Promise<LoadResult> {
  process.kill(server.pid, 'SIGCONT')
  await sleep(50)
  try {
    return await load({
      port: server.port,
      durationSec: seconds,
      connections: CONNECTIONS,
      attack: attackOf(server.scenario),
    })
  } finally {
    process.kill(server.pid, 'SIGSTOP')
  }
}

interface GroupOutcome {
  framework: Framework
  handler: Handler
  perRound: Map<Scenario, LoadResult[]>
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
  const scenarios = plan.scenarios[handler]
  const groupSec = scenarios.length * (plan.warmupSec + plan.rounds * plan.roundSec)
  const captureMs = Math.min(MAX_CAPTURE_MS, groupSec * 3000 + 60_000)
  const dir = await mkdtemp(join(tmpdir(), 'tripwire-bench-load-'))
  const servers: ServerProcess[] = []
  try {
    // One server per scenario, kept alive (and stopped between its rounds) for the whole group. They start
    // side by side, before any load, to keep the run short.
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
    for (const server of servers) await round1(server, plan.warmupSec)
    const perRound = new Map<Scenario, LoadResult[]>(scenarios.map((s) => [s, []]))
    for (let r = 0; r < plan.rounds; r++) {
      // Interleaved: every scenario once per round, starting one later each round (A B C, B C A, …)
      for (let i = 0; i < servers.length; i++) {
        const server = servers[(r + i) % servers.length]!
        perRound.get(server.scenario)!.push(await round1(server, plan.roundSec))
      }
    }
    const rssMb: Partial<Record<Scenario, number>> = {}
    for (const server of servers) {
      const mb = await peakRssMb(server.pid)
      if (mb !== undefined) rssMb[server.scenario] = mb
    }
    const summary = scenarios
      .map((s) => `${s} ${Math.round(median(perRound.get(s)!.map((x) => x.requestsPerSec)))}`)
      .join(', ')
    log(`${framework}/${handler}: req/s ${summary}`)
    return { framework, handler, perRound, rssMb, loadSec: plan.warmupSec + plan.rounds * plan.roundSec }
  } finally {
    for (const server of servers) killServer(server)
    await rm(dir, { recursive: true, force: true })
  }
}

function results(outcome: GroupOutcome, plan: Plan): BenchResult[] {
  const { framework, handler, perRound } = outcome
  const out: BenchResult[] = []
  for (const ratio of RATIOS) {
    if (ratio.handler !== handler) continue
    const num = perRound.get(ratio.scenario)
    const den = perRound.get(ratio.baseline)
    if (num === undefined || den === undefined) continue
    const ratios = num.map((x, i) => x.requestsPerSec / den[i]!.requestsPerSec)
    const { value, min, max } = summarize(ratios)
    const bad = [...num, ...den].reduce((sum, x) => sum + x.errors + x.timeouts + x.non2xx, 0)
    const rps = (list: LoadResult[]) => Math.round(median(list.map((x) => x.requestsPerSec)))
    const p99 = (list: LoadResult[]) => median(list.map((x) => x.latencyP99Ms))
    out.push({
      id: `load-overhead.${framework}.${handler}.${ratio.key}`,
      label: `${framework}, ${handler} handler: ${ratio.label} (req/s)`,
      value: round(value),
      unit: '×',
      ...(ratio.target === undefined ? {} : { target: ratio.target }),
      note:
        `median req/s ${rps(num)} vs ${rps(den)}; p99 ${p99(num)} vs ${p99(den)} ms; ` +
        `${CONNECTIONS} connections, ${plan.roundSec} s rounds` +
        (bad > 0 ? `; ${bad} errors/timeouts/non-2xx` : ''),
      spread: { min: round(min), max: round(max), rounds: ratios.length },
    })
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
        out.push(...results(await runGroup(framework, handler, plan, iterations, pinning, log), plan))
      }
    }
    return out
  } finally {
    pinning?.release()
  }
}
